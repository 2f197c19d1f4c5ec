"""How good a style model is: the Gatys optimisation baseline (gatys.py), the evaluation of exported
models on photos with the training losses (evaluate.py; what it scores with: scoring.py) and its
outputs (report.py: contact sheet, JSON, CSV), the content/style weight sweep (calibrate.py) and the
pictures of what a model does (pictures.py: the demo and styles sheets), all drawn on sheet.py's grid."""
