"""Run by tests/test_scale.py as `python tests/ddp_probe.py OUT PHOTOS`: trains 2 gloo ranks on CPU and
records, per rank, the sample indices of every epoch and the final transformer weights."""
import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import STYLES  # noqa: E402

from stylenet.training.data import StyleDataModule  # noqa: E402
from stylenet.training.module import StyleTransferModule  # noqa: E402


class Probe(pl.Callback):
    def __init__(self, out: Path):
        self.out, self.epochs = out, []

    def on_train_epoch_start(self, trainer, pl_module):
        sampler = trainer.train_dataloader.sampler
        self.epochs.append([key % sampler.num_samples for key in sampler])

    def on_train_end(self, trainer, pl_module):
        rank = trainer.global_rank
        torch.save(pl_module.net.state_dict(), self.out / f"rank{rank}.pt")
        (self.out / f"rank{rank}.json").write_text(json.dumps({"epochs": self.epochs, "world": trainer.world_size}))


def main(out: Path, photos: str) -> None:
    pl.seed_everything(0)
    module = StyleTransferModule(style_name="starry_night", style_image=str(STYLES / "starry_night.jpg"), style_size=64,
                                 width=4, num_res_blocks=1, content_layers={"relu2_2": 1.0},
                                 style_layers={"relu1_2": 0.3, "relu2_2": 1.0}, lr=1e-2)
    dm = StyleDataModule("folder", photos, image_size=32, batch_size=2, num_workers=0, val_size=0)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=4, logger=False, use_distributed_sampler=False,
                         enable_checkpointing=False, enable_progress_bar=False, callbacks=[Probe(out)])
    trainer.fit(module, datamodule=dm)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
