"""Makes the converter-made LSTM models of this folder (the tests only read the .tflite files).

Needs TensorFlow 2.21 with the Keras 2 package (`pip install tensorflow-cpu==2.21.* tf_keras==2.21.*`) and
TF_USE_LEGACY_KERAS=1: the Keras 3 LSTM layer converts to a WHILE loop, the Keras 2 layer to one fused
UNIDIRECTIONAL_SEQUENCE_LSTM operator. Random weights, random-data calibration, full-integer int8 quantization.
Run: TF_USE_LEGACY_KERAS=1 python make_models.py
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

keras = tf.keras
L = keras.layers
HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(0)


def make(name: str, units: int, steps: int, features: int, sequences: bool, batch: int = 1, time_major=False):
    shape = (steps, batch, features) if time_major else (batch, steps, features)
    x = keras.Input(shape=shape[1:], batch_size=shape[0])
    y = L.LSTM(units, return_sequences=sequences, time_major=time_major)(x)
    if not sequences:
        y = L.Dense(4)(y)
    model = keras.Model(x, y)

    def calibration():
        for _ in range(64):
            yield [rng.uniform(-1, 1, shape).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = calibration
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    (HERE / f"{name}.tflite").write_bytes(conv.convert())


make("lstm_sequences", 16, 10, 8, True)
make("lstm_last_step_dense", 12, 8, 5, False)
make("lstm_two_rows", 6, 5, 3, True, batch=2)
make("lstm_time_major", 7, 6, 4, True, batch=2, time_major=True)
