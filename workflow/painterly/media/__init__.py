"""Media I/O: images, decoding a video's frames with their timestamps, the lossless chunk
files, encoding the output video. No torch at import."""
