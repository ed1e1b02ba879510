"""Pixel maths without files: colour (BT.601 as MATLAB), resize (MATLAB imresize), metrics,
output sizes and what a picture says about itself."""
