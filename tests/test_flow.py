"""Optical flow, reliability masks, warping, and what temporal mode buys."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from painterly.video.chains import IN_PLACE, Anchor, anchor_positions, held_target
from painterly.engine.losses import Objective, temporal_difference
from painterly.video.flow import flow, matching_flow, reliability, reliable_flow, warp, with_still_pixels
from painterly.media.io import image_to_tensor, load_frame, load_image
from painterly.video.metrics import warp_error, warp_errors
from painterly.media.segments import load_frames
from painterly.video.seams import final_frames
from painterly.video.chunk import stylize_frames
from painterly.engine.settings import MAX_ANCHORS, Settings
from painterly.engine.stylize import Stylizer, style_layer_weights
from painterly.video.loss_records import read_chunk_record
from painterly.media.extract import extract_frames, frame_paths

from .conftest import DATA
from .media import frame_pixels, write_clip


def textured(height=64, width=80, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    return np.kron(noise, np.ones((4, 4, 1), dtype=np.uint8))  # blocky texture flow can lock onto


def test_warp_by_known_translation_reproduces_image():
    image = textured().astype(np.float32)
    shifted = np.roll(image, shift=(3, 5), axis=(0, 1))  # content moves down 3, right 5
    displacement = np.zeros(image.shape[:2] + (2,), np.float32)
    displacement[..., 0], displacement[..., 1] = 5, 3  # image(x) = shifted(x + (5, 3))
    restored = warp(shifted, displacement)
    assert np.abs(restored - image)[8:-8, 8:-8].max() < 1e-3


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_recovers_a_translation(method):
    image = textured()
    moved = np.roll(image, shift=(2, 3), axis=(0, 1))
    estimate = flow(image, moved, method)[16:-16, 16:-16]
    assert np.abs(np.median(estimate[..., 0]) - 3) < 0.5 and np.abs(np.median(estimate[..., 1]) - 2) < 0.5


def test_mask_marks_the_disoccluded_strip_not_the_static_background():
    background = textured(64, 96, seed=2) // 2  # static, textured, darker than the square
    square = textured(24, 24, seed=1) // 2 + 128
    before, after = background.copy(), background.copy()
    before[20:44, 30:54] = square
    after[20:44, 38:62] = square  # the square moves 8 px right
    # Mask for the earlier frame's pixels seen in the later one: the strip the square
    # leaves behind (x 30..37) is disoccluded when we look from `after` back to `before`,
    # i.e. in the mask of `after` (t) with respect to `before` (t-1).
    mask = reliability(flow(after, before), flow(before, after))
    uncovered = mask[24:40, 30:38]  # background revealed by the move, hidden in `before`
    static = np.concatenate([mask[:, :20].ravel(), mask[:, 75:].ravel(), mask[:12].ravel(), mask[52:].ravel()])
    assert uncovered.mean() < 0.5, uncovered.mean()
    assert static.mean() > 0.95, static.mean()


def test_still_background_beside_a_moving_thing_is_held_still_and_the_thing_keeps_its_flow(content_image):
    """DIS estimates flow on overlapping patches, so the still background beside a moving
    thing gets part of its motion, and the reliability check then gives that background up
    (a motion boundary): it was repainted every frame the thing passed. with_still_pixels
    holds it still (zero flow, reliable); the thing's own flow, and a pan's, stay as they were."""
    photo = np.asarray(content_image.resize((160, 110)))
    background, patch = photo[10:98, 10:138], textured(24, 24, seed=1)
    before, after = background.copy(), background.copy()
    before[32:56, 40:64] = patch
    after[32:56, 44:68] = patch  # moves 4 px right
    backward, reliable = reliable_flow(after, before)
    beside = np.ones(after.shape[:2], bool)
    beside[26:62, 34:74] = False  # the background, 6 px clear of the patch at either place
    given_up, dragged = beside & (reliable == 0), beside & (np.linalg.norm(backward, axis=-1) > 0.5)
    assert given_up.sum() > 100 and dragged.sum() > 5
    held, held_reliable = with_still_pixels(after, before, backward, reliable)
    assert held_reliable[given_up].mean() > 0.8 and (np.linalg.norm(held[dragged], axis=-1) < 0.5).all()
    assert (held[held_reliable > reliable] == 0).all()  # held still, not along the patch
    inside = (slice(36, 52), slice(48, 64))
    assert np.array_equal(held[inside], backward[inside]) and abs(np.median(held[inside][..., 0]) + 4) < 0.5

    for shift in (1.0, 0.5):  # a pan over the photo, a pixel and half a pixel a frame: no pixel held still
        first, later = (np.asarray(content_image.transform((128, 88), 0, (1, 0, 10 + x, 0, 1, 10), resample=3))
                        for x in (0, shift))
        backward, reliable = reliable_flow(later, first)
        held, _ = with_still_pixels(later, first, backward, reliable)
        assert (held != backward).any(-1).mean() < 0.01


def test_a_far_frame_is_held_only_where_its_content_matches_where_the_flow_points(content_image):
    """Across many frames the flow both directions agree on can point at something else
    (here: no motion, but the patch was another one then); matching_flow gives those pixels
    up and keeps the rest, and a true motion matches."""
    photo = np.asarray(content_image.resize((160, 110)))
    now, then = photo[10:98, 10:138].copy(), photo[10:98, 10:138].copy()
    now[32:56, 40:64], then[32:56, 40:64] = textured(24, 24, seed=1), textured(24, 24, seed=2)
    still, everywhere = np.zeros(now.shape[:2] + (2,), np.float32), np.ones(now.shape[:2], np.float32)
    kept = matching_flow(now, then, still, everywhere)
    assert kept[36:52, 44:60].max() == 0 and kept[:24].min() == 1 and kept[64:].min() == 1
    moved = np.roll(then, 3, axis=1)  # the whole picture 3 px right: its flow points back, and matches
    backward, reliable = reliable_flow(moved, then)
    assert matching_flow(moved, then, backward, reliable)[:, 8:-8].mean() > 0.95 * reliable[:, 8:-8].mean()


def test_a_pixel_held_by_more_earlier_results_is_held_harder():
    """Ruder et al.'s long-term terms sum_k (x - w_k)^2 over the reliable results: where both
    the previous result (0.6) and the one 5 back (0.2) are reliable, the frame is held to
    their average twice as hard as where only the previous one is ("sum"); "average" holds
    both like one term, to the same targets."""
    earlier = [torch.full((1, 3, 4, 6), value) for value in (0.2, 0.0, 0.0, 0.0, 0.6)]
    still = torch.zeros(1, 4, 6, 2)
    one_back = torch.ones(1, 1, 4, 6)
    five_back = one_back.clone()
    five_back[..., 3:] = 0
    flows = {1: (still, one_back), 5: (still, five_back)}
    target, weight = held_target(earlier, flows, "cpu", "sum")
    assert torch.allclose(target[..., :3], torch.tensor(0.4)) and torch.allclose(target[..., 3:], torch.tensor(0.6))
    assert weight[..., :3].eq(2).all() and weight[..., 3:].eq(1).all()
    averaged, one_term = held_target(earlier, flows, "cpu", "average")
    assert torch.equal(averaged, target) and one_term.eq(1).all()
    # The term: a frame 0.1 off everywhere is penalized twice as much where held twice as hard.
    left = torch.zeros_like(weight)
    left[..., :3] = weight[..., :3]
    right = weight - left
    assert torch.allclose(temporal_difference(target + 0.1, target, left),
                          2 * temporal_difference(target + 0.1, target, right))
    # The chain's first result (temporal_anchor) is one more term where it is reliable.
    first, half = torch.full((1, 3, 4, 6), 0.9), one_back.clone()
    half[..., :2, :] = 0
    anchored, anchored_weight = held_target(earlier, flows, "cpu", "sum", [(first, (still, half))])
    assert torch.allclose(anchored[..., 2:, :3], torch.tensor(1.7 / 3))  # (0.6 + 0.2 + 0.9) / 3
    assert torch.equal(anchored[..., :2, :], target[..., :2, :])
    assert torch.equal(anchored_weight, weight + half)
    # A later anchor (temporal_keyframes) holds only where no older one is reliable, and
    # anchors weigh temporal_anchor_weight terms: top rows to the keyframe (0.3), 4 terms' worth.
    keyframe = torch.full((1, 3, 4, 6), 0.3)
    both, both_weight = held_target(earlier, flows, "cpu", "sum", [(first, (still, half)), (keyframe, (still, one_back))],
                                    anchor_weight=4)
    assert torch.allclose(both[..., 2:, :3], torch.tensor((0.6 + 0.2 + 4 * 0.9) / 6))
    assert torch.allclose(both[..., :2, 3:], torch.tensor((0.6 + 4 * 0.3) / 5))
    assert torch.equal(both_weight, weight + 4)
    # ... where the anchor is seen in place (flow under IN_PLACE); where it moved (a pan), one
    # term: a resampled painting is softer than a fresh one.
    panned = torch.zeros(1, 4, 6, 2)
    panned[:, 2:, :, 0], panned[:, :2, :, 0] = 1.0, IN_PLACE / 2
    moved, moved_weight = held_target(earlier, flows, "cpu", "sum", [(keyframe, (panned, one_back))], anchor_weight=4)
    assert torch.equal(moved_weight[..., :2, :], weight[..., :2, :] + 4)
    assert torch.equal(moved_weight[..., 2:, :], weight[..., 2:, :] + 1)
    assert torch.allclose(moved[..., 2:, :3], torch.tensor((0.6 + 0.2 + 0.3) / 3))


def test_a_chains_anchors_are_its_first_frame_and_every_keyframes_frames_after_it():
    """Fixed by positions alone (frames are read ahead of the device), continued the same
    from the anchors a resumed chain already has, and at most MAX_ANCHORS."""
    settings = Settings(temporal_keyframes=30)
    assert anchor_positions(settings, [], 100) == [0, 30, 60, 90]
    assert anchor_positions(settings.replace(temporal_keyframes=0), [], 100) == [0]
    assert anchor_positions(settings.replace(temporal_anchor=False), [], 100) == []
    resumed = [Anchor(None, None, -40), Anchor(None, None, -10)]  # 30 frames apart, the newest 10 back
    assert anchor_positions(settings, resumed, 100) == [20, 50, 80]
    assert anchor_positions(settings, [], 10_000) == [30 * i for i in range(MAX_ANCHORS)]


def test_temporal_mode_lowers_warp_error_on_a_real_clip(tmp_path, style_image, vgg):
    write_clip(tmp_path / "clip.mkv", frames=5, audio=False)
    meta = extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=64)
    settings = Settings(size=64, pyramid_min_size=32, iterations=30, frame_iterations=15, device="cpu", tolerance=0)
    Stylizer(settings, vgg).targets([style_image]).save(tmp_path / "targets.pt")
    inputs = [load_frame(p) for p in frame_paths(tmp_path / "frames", 0, meta["frame_count"])]
    errors = {}
    for temporal in (False, True):
        out = tmp_path / f"styled-{temporal}"
        stylize_frames(frame_paths(tmp_path / "frames", 0, 5), tmp_path / "targets.pt", out,
                       settings.replace(temporal=temporal), progress=False)
        styled = list(load_frames(final_frames([out])))
        errors[temporal] = np.mean(warp_error(zip(inputs, styled)))
    assert errors[True] < 0.7 * errors[False], errors


def test_farther_temporal_frames_keep_texture_from_swimming(tmp_path, style_image, vgg):
    """Held only to the previous result, a chain's texture on a still background drifts a
    little every frame, and frames 4 apart differ far more than their source does. Held to
    the result 4 frames back as well (``temporal_frames``), it stays put over those frames,
    and neighbours stay as steady. (Still pixels off: at 48 px DIS gives this clip's whole
    background part of the square's motion, and the metric measures with that same flow.)"""
    write_clip(tmp_path / "clip.mkv", frames=12, audio=False)
    meta = extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=48)
    frames = frame_paths(tmp_path / "frames", 0, meta["frame_count"])
    settings = Settings(size=48, pyramid_min_size=48, iterations=30, frame_iterations=8, device="cpu", tolerance=0,
                        temporal_still=False)
    Stylizer(settings, vgg).targets([style_image]).save(tmp_path / "targets.pt")
    inputs = [load_frame(path) for path in frames]
    errors = {}
    for held in ((1,), (1, 4)):
        out = tmp_path / f"styled-{len(held)}"
        stylize_frames(frames, tmp_path / "targets.pt", out, settings.replace(temporal_frames=held), progress=False)
        pairs = warp_errors(zip(inputs, load_frames(final_frames([out]))), (1, 4))
        errors[held] = {k: np.mean([styled for styled, _ in pairs[k]]) for k in (1, 4)}
    assert errors[(1, 4)][4] < 0.7 * errors[(1,)][4], errors
    assert errors[(1, 4)][1] < 1.3 * errors[(1,)][1], errors


def test_the_first_result_keeps_a_still_background_from_drifting(tmp_path, style_image, vgg):
    """Held only to recent results (themselves held to results), the painting of a still
    background changes a little every frame people walk past: a loop later, the same source
    frames come out differently there. Held to the chain's first result too
    (``temporal_anchor``), it comes back as it was painted the first time."""
    meta = extract_frames(DATA / "vtest.mp4", tmp_path / "frames", tmp_path / "meta.json", size=32, end=16)
    once = frame_paths(tmp_path / "frames", 0, meta["frame_count"])
    loop = once + once[-2:0:-1]  # forth and back: one shot, no cut at the turns
    (tmp_path / "shot").mkdir()
    frames = [tmp_path / "shot" / f"{i:06d}.png" for i in range(len(loop) + 16)]
    for i, frame in enumerate(frames):
        frame.symlink_to(loop[i % len(loop)])
    inputs = np.array([load_frame(path) for path in once], dtype=np.float32)
    still = inputs.std(0).mean(-1) < 3
    settings = Settings(size=32, pyramid_min_size=32, iterations=30, frame_iterations=10, device="cpu")
    Stylizer(settings, vgg).targets([style_image]).save(tmp_path / "targets.pt")
    changed = {}
    for anchored in (False, True):
        out = tmp_path / f"styled-{anchored}"
        stylize_frames(frames, tmp_path / "targets.pt", out, settings.replace(temporal_anchor=anchored), progress=False)
        styled = np.array(list(load_frames(final_frames([out]))), dtype=np.float32)
        later = range(len(loop), len(frames))
        changed[anchored] = np.mean([np.abs(styled[i] - styled[i % len(loop)])[still].mean() for i in later])
    # Measured: 2.6 against 1.3 levels a pixel.
    assert still.mean() > 0.5 and changed[True] < 0.7 * changed[False], changed


def test_keyframes_keep_what_the_first_frame_hid_from_drifting(tmp_path, style_image, vgg):
    """What people stood in front of in a chain's first frame has no fixed point in it: held
    only to recent results, that background comes out differently each time it shows again.
    A later result that shows it (``temporal_keyframes``) holds it there, and a loop later
    the same source frames get the same painting back."""
    meta = extract_frames(DATA / "vtest.mp4", tmp_path / "frames", tmp_path / "meta.json", size=32, end=16)
    once = frame_paths(tmp_path / "frames", 0, meta["frame_count"])
    loop = once + once[-2:0:-1]  # forth and back: one shot, no cut at the turns
    (tmp_path / "shot").mkdir()
    frames = [tmp_path / "shot" / f"{i:06d}.png" for i in range(2 * len(loop))]
    for i, frame in enumerate(frames):
        frame.symlink_to(loop[i % len(loop)])
    inputs = np.array([load_frame(path) for path in loop], dtype=np.float32)
    walkers = np.abs(inputs - np.median(inputs, 0)).mean(-1) > 15
    settings = Settings(size=32, pyramid_min_size=32, iterations=30, frame_iterations=10, device="cpu")
    Stylizer(settings, vgg).targets([style_image]).save(tmp_path / "targets.pt")
    changed = {}
    for keyframes in (0, 8):
        out = tmp_path / f"styled-{keyframes}"
        stylize_frames(frames, tmp_path / "targets.pt", out, settings.replace(temporal_keyframes=keyframes),
                       progress=False)
        styled = np.array(list(load_frames(final_frames([out]))), dtype=np.float32)
        # The second pass against the first, where the first frame's walkers stood and the frame shows background.
        changed[keyframes] = np.mean([np.abs(styled[i] - styled[i - len(loop)])[walkers[0] & ~walkers[i - len(loop)]]
                                      .mean() for i in range(len(loop) + 8, len(frames))])
    # Measured: 3.5 against 5.0 levels a pixel (4% of the pixels).
    assert walkers[0].mean() > 0.02 and changed[8] < 0.8 * changed[0], changed


def test_a_chains_first_frame_is_restarted_until_as_stylized_as_the_frames_after_it(tmp_path, style_image, vgg):
    """Every later frame starts from a result as saved (clamped to [0, 1]) and paints on; a
    first frame that ran once was the chain's least stylized, and later frames are held to it.
    Restarted (``first_frame_restarts``) it is as stylized as they are."""
    meta = extract_frames(DATA / "vtest.mp4", tmp_path / "frames", tmp_path / "meta.json", size=64, end=6)
    frames = frame_paths(tmp_path / "frames", 0, meta["frame_count"])
    settings = Settings(size=64, pyramid_min_size=32, iterations=60, frame_iterations=20, tolerance=0, device="cpu")
    stylizer = Stylizer(settings, vgg)
    targets = stylizer.targets([style_image])
    targets.save(tmp_path / "targets.pt")
    style = {}
    for restarts in (0, 2):
        out = tmp_path / f"styled-{restarts}"
        stylize_frames(frames, tmp_path / "targets.pt", out, settings.replace(first_frame_restarts=restarts),
                       progress=False)
        records = read_chunk_record(out)["frames"]
        assert [len(levels) for levels in records[0]["losses"]] == [40, 20] + [20] * restarts
        style[restarts] = []
        for frame, styled in zip(frames, load_frames(final_frames([out]))):
            content = image_to_tensor(load_image(frame))
            objective = Objective(vgg, content, targets.at(64, "cpu"), settings.content_layer,
                                  style_layer_weights(settings), 1.0, 1.0, 1.0)
            with torch.no_grad():
                style[restarts].append(float(objective.terms(image_to_tensor(Image.fromarray(styled)))["style"]))
    first_over_rest = {restarts: values[0] / np.mean(values[1:]) for restarts, values in style.items()}
    # Measured: first frame 0.115 -> 0.107; 1.03x the frames after it -> 0.99x.
    assert style[2][0] < 0.96 * style[0][0], style
    assert first_over_rest[0] > 1.02 and first_over_rest[2] < 1.01, first_over_rest


def test_the_warp_error_ten_frames_apart_sees_slow_drift_that_neighbours_hide():
    """On a moving clip: a video that is its source measures as its source at every
    distance; one that flickers (fresh noise each frame) is as unsteady 10 frames apart as
    1; one that drifts (2 grey levels a frame) barely shows it between neighbours and
    ~100x more 10 frames apart, as texture that swims over seconds does."""
    inputs = [frame_pixels(i) for i in range(14)]
    rng = np.random.default_rng(0)

    def measured(stylized):
        return {k: np.array(v) for k, v in warp_errors(zip(inputs, stylized), (1, 10)).items()}

    same = measured(inputs)
    assert [len(same[1]), len(same[10])] == [13, 4]
    assert np.array_equal(same[1][:, 0], same[1][:, 1]) and np.array_equal(same[10][:, 0], same[10][:, 1])
    assert np.allclose(warp_error(zip(inputs, inputs)), same[1][:, 0])
    flicker = measured([np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8) for f in inputs])
    assert 0.8 < np.median(flicker[10][:, 0]) / np.median(flicker[1][:, 0]) < 1.25
    drift = measured([np.clip(f.astype(int) + 2 * i + 10, 0, 255).astype(np.uint8) for i, f in enumerate(inputs)])

    def beyond_the_source(errors, k):  # what the stylized video adds to the source's own error
        return (errors[k][:, 0] - errors[k][:, 1]).mean()

    assert beyond_the_source(drift, 10) > 50 * beyond_the_source(drift, 1)  # (20/2)^2 = 100 in theory
    assert beyond_the_source(flicker, 1) > 5 * beyond_the_source(drift, 1)


def test_raft_runs_from_a_local_weights_file(tmp_path):
    import torch
    from torchvision.models.optical_flow import raft_small

    from painterly.errors import PainterlyError

    path = tmp_path / "raft_small.pth"
    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), path)  # untrained: checks loading and shapes, not accuracy
    image = textured()
    estimate = flow(image, np.roll(image, 2, axis=1), str(path))
    assert estimate.shape == (64, 80, 2) and estimate.dtype == np.float32 and np.isfinite(estimate).all()
    # A stylize job computes flows on several threads at once, all with the one cached model
    # (torchvision's RAFT keeps its correlation pyramid on the module between calls).
    pairs = [(textured(seed=seed), np.roll(textured(seed=seed), 2, axis=1)) for seed in range(4)] * 3
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda pair: flow(*pair, str(path)), pairs))
    for (a, b), estimated in zip(pairs, together):
        np.testing.assert_allclose(estimated, flow(a, b, str(path)), atol=1e-4)
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(PainterlyError, match="not a torchvision RAFT state dict"):
        flow(image, image, str(tmp_path / "other.pth"))
