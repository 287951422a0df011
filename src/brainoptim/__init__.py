"""brainoptim: PyTorch-style optimizers for brainstate models."""
