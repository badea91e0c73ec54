"""Images and masks: the ImageNet-S reader, the shared geometry, the mask codec, noise, and the
offline demo world."""
