"""A side-by-side still of input and result, for reports and a quick look."""

from pathlib import Path

from PIL import Image

from ..media.io import atomic_path, frame_image, load_image
from ..media.segments import load_frames
from ..video.seams import final_frames


def side_by_side(content, stylized_path, output) -> None:
    """Content (an image file or a DecodedFrame) left, result right; a chunk's directory
    stands for its first own frame."""
    stylized_path = Path(stylized_path)
    if stylized_path.is_dir():
        stylized = Image.fromarray(next(load_frames(final_frames([stylized_path])[:1])))
    else:
        stylized = load_image(stylized_path)
    content = frame_image(content).resize(stylized.size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (stylized.width * 2, stylized.height))
    canvas.paste(content, (0, 0))
    canvas.paste(stylized, (stylized.width, 0))
    with atomic_path(output) as tmp:
        canvas.save(tmp, format="JPEG", quality=90)
