"""torch.hub entry point: torch.hub.load(repo_dir, "stylizer", model_path="starry_night.safetensors", source="local")"""
dependencies = ["torch", "torchvision", "safetensors", "PIL"]


def stylizer(model_path: str, device: str = "cpu", **options):
    """A stylenet.Stylizer for an exported model (.safetensors, .ckpt or .onnx); see stylenet.load_stylizer."""
    from stylenet.inference import load_stylizer

    return load_stylizer(model_path, device=device, **options)
