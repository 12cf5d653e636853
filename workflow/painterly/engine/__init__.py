"""The optimization engine: VGG-19, the losses, L-BFGS, the stylizer, style targets and
every setting. Knows images and tensors, nothing of videos or workflows."""
