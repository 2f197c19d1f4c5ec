"""torch.hub entry points:

    torch.hub.load(repo_dir, "stylizer", model_path="starry_night.safetensors", source="local")
    torch.hub.load(repo_dir, "wave", source="local")        # every bundled model and style by name (MODELS.md)
    torch.hub.load(repo_dir, "zoo", style={"wave": 0.5, "udnie": 0.5}, source="local")
"""
dependencies = ["torch", "torchvision", "safetensors", "PIL"]


def stylizer(model_path: str, device: str = "cpu", **options):
    """A stylenet.Stylizer for an exported model (.safetensors, .ckpt or .onnx) or a bundled name;
    see stylenet.load_stylizer."""
    from stylenet.inference import load_stylizer

    return load_stylizer(model_path, device=device, **options)


def _bundled(name: str):
    def entry(device: str = "cpu", **options):
        return stylizer(name, device=device, **options)
    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"The bundled stylenet model or style {name!r} as a Stylizer (MODELS.md); options as stylenet.load_stylizer."
    return entry


def _register() -> None:
    from stylenet.export import bundled_styles

    for name in bundled_styles():
        if name.isidentifier() and name not in globals():
            globals()[name] = _bundled(name)


_register()
