"""Training with Lightning: the photo data and its resumable order, the LightningModules (base.py: what
every family shares; module.py: the feed-forward family, one style or many, with fine-tuning,
distillation and the temporal regulariser), and the Trainer around them (trainer.py: checkpoints that
survive crashes, exact resume, previews, progress). The networks (stylenet.models) and losses
(stylenet.losses) stay free of Lightning; the AdaIN family's module is stylenet.adain.module."""
