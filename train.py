"""Train a feed-forward style network: python train.py style=starry_night trainer.devices=4

Hydra composes conf/train.yaml; Lightning runs it (DDP re-runs this script in every rank, so it does nothing
at import and never prompts). Outputs land in hydra.run.dir. The command itself is stylenet/train_cli.py,
which an installed package also offers as ``stylenet-train``.
"""
from stylenet.train_cli import cli

if __name__ == "__main__":
    cli()
