"""stylenet: feed-forward neural style transfer (Johnson et al. 2016) on PyTorch Lightning and Hydra."""
from .inference import Stylizer, load_stylizer

__version__ = "0.1.0"
__all__ = ["Stylizer", "load_stylizer", "__version__"]
