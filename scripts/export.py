"""Export a trained style model (Lightning .ckpt or .safetensors) to safetensors, TorchScript and/or ONNX,
checking each against the PyTorch model on a real photo:
    python scripts/export.py --model outputs/demo/checkpoints/last.ckpt --format safetensors onnx --out exported/
    python scripts/export.py --model light.safetensors --format onnx-fp16 onnx-int8 --out exported/   # smaller files
    python scripts/export.py --model wave --format onnx --out exported/   # one style of the bundled zoo, on its own
    python scripts/export.py --model wave --out wave.onnx   # one file: its suffix sets the format
    python scripts/export.py --model zoo --style starry_night=0.7,wave=0.3 --out exported/   # a mix, baked in
    python scripts/export.py --model adain --style painting.jpg --alpha 0.8 --format onnx --out exported/   # any painting
"""
import sys

from stylenet.export_cli import main

if __name__ == "__main__":
    sys.exit(main())
