"""Training, retraining, export and evaluation: everything that needs TensorFlow (the `train`
extra) or the labelled data. It writes the model folders that `model` serves; `model` never
imports it.
"""
