"""Running a weight set on pictures: the Upscaler, the per-picture choice, the colour pipeline,
numerics, ONNX export and the tilers."""
