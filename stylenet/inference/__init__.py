"""Stylising with a trained model, one code path for every medium (photos, folders, video frames, the web app):

- :mod:`.stylizer`: :class:`Stylizer`, a trained network ready for inference (tiling, colour preservation,
  strength, precision, PyTorch or onnxruntime);
- :mod:`.load`: :func:`load_stylizer` for a model file, an ONNX file or a bundled name (AdaIN models get
  :class:`stylenet.adain.stylizer.AdaINStylizer`), and :func:`auto_precision` (bf16 where it is faster);
- :mod:`.styles`: a multi-style model's style choice and mixes (``"starry_night=0.7,wave=0.3"``);
- :mod:`.batch`: files and folders in, files out (``scripts/stylize.py``), with a summary;
- :mod:`.cliargs`: the options the stylising scripts share, and :func:`.cliargs.run_guarded` (a user's mistake or
  Ctrl+C as one line).
"""
from .load import auto_precision, load_stylizer
from .stylizer import PRECISIONS, ImageTooLargeError, Stylizer

__all__ = ["PRECISIONS", "ImageTooLargeError", "Stylizer", "auto_precision", "load_stylizer"]
