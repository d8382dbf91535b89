"""Misuse of the linear, convolution, pooling, padding, resampling, folding and recurrent layers
side by side with PyTorch: the same exception type, a message of ember's own (never NumPy's or an
AttributeError from inside the layer), and the same results where PyTorch accepts the call."""
import warnings

import numpy as np
import pytest

import ember

# name -> call(framework); PyTorch raises for each of them.
CASES = {
    # linear and bilinear
    "linear list input": lambda fw: fw.nn.Linear(2, 3)([1.0, 2.0]),
    "linear list weight": lambda fw: fw.nn.functional.linear(fw.ones(2, 3), [[1.0, 2.0, 3.0]]),
    "linear list bias": lambda fw: fw.nn.functional.linear(fw.ones(2, 3), fw.ones(4, 3), [1.0]),
    "linear float in_features": lambda fw: fw.nn.Linear(4.7, 3),
    "linear float out_features": lambda fw: fw.nn.Linear(2, 3.0),
    "linear negative in_features": lambda fw: fw.nn.Linear(-1, 3),
    "linear str in_features": lambda fw: fw.nn.Linear("2", 3),
    "linear dtype mismatch": lambda fw: fw.nn.Linear(3, 4)(fw.ones(2, 3, dtype=fw.float64)),
    "linear integer input": lambda fw: fw.nn.Linear(3, 4)(fw.ones(2, 3, dtype=fw.int64)),
    "linear features mismatch": lambda fw: fw.nn.Linear(3, 4)(fw.ones(2, 5)),
    "linear 0-d input": lambda fw: fw.nn.functional.linear(fw.tensor(2.0), fw.ones(4, 3)),
    "linear 3-d weight": lambda fw: fw.nn.functional.linear(fw.ones(2, 3), fw.ones(2, 4, 3)),
    "linear bias size": lambda fw: fw.nn.functional.linear(fw.ones(2, 3), fw.ones(4, 3),
                                                           fw.ones(5)),
    "linear bias dtype": lambda fw: fw.nn.functional.linear(fw.ones(2, 3), fw.ones(4, 3),
                                                            fw.ones(4, dtype=fw.float64)),
    "bilinear ranks": lambda fw: fw.nn.Bilinear(2, 3, 4)(fw.ones(5, 2), fw.ones(3)),
    "bilinear features": lambda fw: fw.nn.Bilinear(2, 3, 4)(fw.ones(5, 2), fw.ones(5, 4)),
    "bilinear list": lambda fw: fw.nn.Bilinear(2, 3, 4)([1.0, 2.0], fw.ones(3)),
    "bilinear float features": lambda fw: fw.nn.Bilinear(2.5, 3, 4),
    # convolutions
    "conv kernel 0": lambda fw: fw.nn.Conv2d(3, 4, 0)(fw.ones(1, 3, 5, 5)),
    "conv kernel negative": lambda fw: fw.nn.Conv2d(3, 4, -1),
    "conv kernel float": lambda fw: fw.nn.Conv2d(3, 4, 2.5),
    "conv stride 0": lambda fw: fw.nn.Conv2d(3, 4, 3, stride=0)(fw.ones(1, 3, 5, 5)),
    "conv stride negative": lambda fw: fw.nn.Conv2d(3, 4, 3, stride=-1)(fw.ones(1, 3, 5, 5)),
    "conv padding negative": lambda fw: fw.nn.Conv2d(3, 4, 3, padding=-1)(fw.ones(1, 3, 5, 5)),
    "conv dilation 0": lambda fw: fw.nn.Conv2d(3, 4, 3, dilation=0)(fw.ones(1, 3, 5, 5)),
    "conv groups not dividing": lambda fw: fw.nn.Conv2d(3, 4, 3, groups=2),
    "conv groups 0": lambda fw: fw.nn.Conv2d(3, 4, 3, groups=0),
    "conv padding string": lambda fw: fw.nn.Conv2d(3, 4, 3, padding="bad"),
    "conv padding same strided": lambda fw: fw.nn.Conv2d(3, 4, 3, padding="same", stride=2),
    "conv padding_mode": lambda fw: fw.nn.Conv2d(3, 4, 3, padding_mode="bad"),
    "conv in_channels float": lambda fw: fw.nn.Conv2d(3.5, 4, 3),
    "conv in_channels float dividing": lambda fw: fw.nn.Conv2d(3.0, 4, 3),
    "conv out_channels 0": lambda fw: fw.nn.Conv2d(3, 0, 3)(fw.ones(1, 3, 5, 5)),
    "conv in_channels negative": lambda fw: fw.nn.Conv2d(-3, 4, 3),
    "conv2d on 2-d input": lambda fw: fw.nn.Conv2d(3, 4, 3)(fw.ones(5, 5)),
    "conv2d on 5-d input": lambda fw: fw.nn.Conv2d(3, 4, 3)(fw.ones(1, 1, 3, 5, 5)),
    "conv channels mismatch": lambda fw: fw.nn.Conv2d(3, 4, 3)(fw.ones(1, 2, 5, 5)),
    "conv dtype mismatch": lambda fw: fw.nn.Conv2d(3, 4, 3)(fw.ones(1, 3, 5, 5,
                                                                   dtype=fw.float64)),
    "conv integer input": lambda fw: fw.nn.Conv2d(3, 4, 3)(fw.ones(1, 3, 5, 5, dtype=fw.int64)),
    "conv bool input": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5, dtype=fw.bool),
                                                          fw.ones(4, 3, 3, 3, dtype=fw.bool)),
    "conv list input": lambda fw: fw.nn.Conv1d(1, 1, 1)([[1.0, 2.0]]),
    "conv kernel larger than input": lambda fw: fw.nn.Conv2d(3, 4, 7)(fw.ones(1, 3, 5, 5)),
    "conv zero spatial size": lambda fw: fw.nn.Conv2d(3, 4, 1)(fw.ones(1, 3, 0, 5)),
    "conv weight list": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5), [[1.0]]),
    "conv bias size": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                         fw.ones(4, 3, 3, 3), fw.ones(3)),
    "conv bias dtype": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                          fw.ones(4, 3, 3, 3),
                                                          fw.ones(4, dtype=fw.float64)),
    "conv stride length": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                             fw.ones(4, 3, 3, 3),
                                                             stride=(1, 1, 1)),
    "conv stride float": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                            fw.ones(4, 3, 3, 3), stride=1.5),
    "conv stride bool": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                           fw.ones(4, 3, 3, 3), stride=True),
    "conv groups float": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                            fw.ones(4, 3, 3, 3), groups=1.5),
    "conv padding float": lambda fw: fw.nn.functional.conv2d(fw.ones(1, 3, 5, 5),
                                                             fw.ones(4, 3, 3, 3), padding=1.5),
    "conv1d on 4-d input": lambda fw: fw.nn.functional.conv1d(fw.ones(1, 3, 5, 5),
                                                              fw.ones(4, 3, 3)),
    "conv3d with 3-d weight": lambda fw: fw.nn.functional.conv3d(fw.ones(1, 3, 5, 5, 5),
                                                                 fw.ones(4, 3, 3)),
    "conv_transpose output_padding": lambda fw: fw.nn.ConvTranspose2d(
        3, 4, 3, stride=2, output_padding=2)(fw.ones(1, 3, 5, 5)),
    "conv_transpose channels": lambda fw: fw.nn.ConvTranspose2d(3, 4, 3)(fw.ones(1, 2, 5, 5)),
    "conv_transpose stride 0": lambda fw: fw.nn.ConvTranspose2d(3, 4, 3, stride=0)(
        fw.ones(1, 3, 5, 5)),
    "conv_transpose output too small": lambda fw: fw.nn.ConvTranspose2d(3, 4, 1, padding=3)(
        fw.ones(1, 3, 5, 5)),
    "conv_transpose dtype": lambda fw: fw.nn.ConvTranspose2d(3, 4, 3)(
        fw.ones(1, 3, 5, 5, dtype=fw.float64)),
    "conv_transpose rank": lambda fw: fw.nn.ConvTranspose2d(3, 4, 3)(fw.ones(5, 5)),
    "conv_transpose kernel 0": lambda fw: fw.nn.functional.conv_transpose2d(
        fw.ones(1, 3, 5, 5), fw.ones(3, 4, 0, 1)),
    "conv_transpose no output channels": lambda fw: fw.nn.functional.conv_transpose2d(
        fw.ones(1, 3, 5, 5), fw.ones(3, 0, 1, 1)),
    "conv_transpose output_size": lambda fw: fw.nn.ConvTranspose2d(3, 4, 3, stride=2)(
        fw.ones(1, 3, 5, 5), output_size=(20, 20)),
    "conv reflect padding too large": lambda fw: fw.nn.Conv2d(
        3, 4, 3, padding=5, padding_mode="reflect")(fw.ones(1, 3, 5, 5)),
    # pooling
    "max_pool kernel 0": lambda fw: fw.nn.MaxPool2d(0)(fw.ones(1, 3, 5, 5)),
    "max_pool kernel negative": lambda fw: fw.nn.MaxPool2d(-1)(fw.ones(1, 3, 5, 5)),
    "max_pool kernel float": lambda fw: fw.nn.MaxPool2d(2.5)(fw.ones(1, 3, 5, 5)),
    "max_pool kernel length": lambda fw: fw.nn.functional.max_pool2d(fw.ones(1, 3, 5, 5),
                                                                     (2, 2, 2)),
    "max_pool stride 0": lambda fw: fw.nn.MaxPool2d(2, stride=0)(fw.ones(1, 3, 5, 5)),
    "max_pool padding too large": lambda fw: fw.nn.MaxPool2d(2, padding=2)(fw.ones(1, 3, 5, 5)),
    "max_pool padding negative": lambda fw: fw.nn.MaxPool2d(2, padding=-1)(
        fw.ones(1, 3, 5, 5)),
    "max_pool dilation 0": lambda fw: fw.nn.MaxPool2d(2, dilation=0)(fw.ones(1, 3, 5, 5)),
    "max_pool rank": lambda fw: fw.nn.MaxPool2d(2)(fw.ones(5)),
    "max_pool1d rank": lambda fw: fw.nn.MaxPool1d(2)(fw.ones(1, 1, 3, 5, 5)),
    "max_pool3d rank": lambda fw: fw.nn.MaxPool3d(2)(fw.ones(5, 5)),
    "max_pool kernel larger than input": lambda fw: fw.nn.MaxPool2d(7)(fw.ones(1, 3, 5, 5)),
    "max_pool empty spatial size": lambda fw: fw.nn.MaxPool2d(2)(fw.ones(1, 3, 0, 5)),
    "max_pool bool input": lambda fw: fw.nn.functional.max_pool2d(
        fw.ones(1, 1, 2, 2, dtype=fw.bool), 2),
    "max_pool1d int32 input": lambda fw: fw.nn.functional.max_pool1d(
        fw.ones(1, 1, 4, dtype=fw.int32), 2),
    "max_pool list input": lambda fw: fw.nn.functional.max_pool2d([[[1.0, 2.0]]], 1),
    "avg_pool kernel 0": lambda fw: fw.nn.AvgPool2d(0)(fw.ones(1, 3, 5, 5)),
    "avg_pool stride 0": lambda fw: fw.nn.AvgPool2d(2, stride=0)(fw.ones(1, 3, 5, 5)),
    "avg_pool stride float": lambda fw: fw.nn.functional.avg_pool2d(fw.ones(1, 3, 5, 5), 2,
                                                                    stride=1.5),
    "avg_pool padding": lambda fw: fw.nn.AvgPool2d(2, padding=3)(fw.ones(1, 3, 5, 5)),
    "avg_pool divisor 0": lambda fw: fw.nn.AvgPool2d(2, divisor_override=0)(
        fw.ones(1, 3, 5, 5)),
    "avg_pool int32 input": lambda fw: fw.nn.AvgPool2d(2)(fw.ones(1, 3, 4, 4, dtype=fw.int32)),
    "avg_pool3d int8 input": lambda fw: fw.nn.AvgPool3d(1)(fw.ones(1, 1, 2, 2, 2,
                                                                   dtype=fw.int8)),
    "avg_pool bool input": lambda fw: fw.nn.AvgPool2d(2)(fw.ones(1, 3, 4, 4, dtype=fw.bool)),
    "avg_pool2d 1-d input": lambda fw: fw.nn.AvgPool2d(2)(fw.ones(5)),
    "avg_pool2d 2-d input": lambda fw: fw.nn.functional.avg_pool2d(fw.ones(5, 5), 2),
    "avg_pool1d 1-d input": lambda fw: fw.nn.functional.avg_pool1d(fw.ones(5), 2),
    "avg_pool3d 2-d input": lambda fw: fw.nn.functional.avg_pool3d(fw.ones(5, 5), 2),
    "avg_pool list input": lambda fw: fw.nn.functional.avg_pool2d([[[1.0, 2.0]]], 1),
    "lp_pool2d 1-d input": lambda fw: fw.nn.LPPool2d(2, 2)(fw.ones(5)),
    "adaptive_avg negative size": lambda fw: fw.nn.AdaptiveAvgPool2d(-1)(fw.ones(1, 3, 5, 5)),
    "adaptive_avg rank": lambda fw: fw.nn.AdaptiveAvgPool2d(2)(fw.ones(5)),
    "adaptive_avg size length": lambda fw: fw.nn.AdaptiveAvgPool2d((2, 2, 2))(
        fw.ones(1, 3, 5, 5)),
    "adaptive_max size length": lambda fw: fw.nn.functional.adaptive_max_pool2d(
        fw.ones(1, 3, 5, 5), (2, 2, 2)),
    "adaptive_avg integer input": lambda fw: fw.nn.AdaptiveAvgPool2d(2)(
        fw.ones(1, 3, 5, 5, dtype=fw.int64)),
    "adaptive_max integer input": lambda fw: fw.nn.functional.adaptive_max_pool2d(
        fw.ones(1, 3, 5, 5, dtype=fw.int64), 2),
    "adaptive_max rank": lambda fw: fw.nn.AdaptiveMaxPool2d(2)(fw.ones(5)),
    "adaptive_max empty spatial size": lambda fw: fw.nn.AdaptiveMaxPool2d(2)(
        fw.ones(1, 3, 0, 5)),
    "adaptive_avg empty channels": lambda fw: fw.nn.functional.adaptive_avg_pool2d(
        fw.ones(3, 0, 5), 2),
    # padding
    "pad odd length": lambda fw: fw.nn.functional.pad(fw.ones(2, 3), (1,)),
    "pad too long": lambda fw: fw.nn.functional.pad(fw.ones(2, 3), (1, 1, 1, 1, 1, 1)),
    "pad reflect too large": lambda fw: fw.nn.ReflectionPad2d(5)(fw.ones(1, 1, 3, 3)),
    "pad mode": lambda fw: fw.nn.functional.pad(fw.ones(1, 1, 3, 3), (1, 1), mode="bad"),
    "pad float widths": lambda fw: fw.nn.functional.pad(fw.ones(1, 1, 3, 3), (1.5, 1)),
    "pad list input": lambda fw: fw.nn.functional.pad([1.0, 2.0], (1, 1)),
    "pad crops too much": lambda fw: fw.nn.functional.pad(fw.ones(3), (-2, -2)),
    "pad reflect rank": lambda fw: fw.nn.ReflectionPad2d(1)(fw.ones(3)),
    "pad replicate with value": lambda fw: fw.nn.functional.pad(fw.ones(1, 1, 3), (1, 1),
                                                                mode="replicate", value=2.0),
    "pad circular wraps twice": lambda fw: fw.nn.CircularPad1d(4)(fw.ones(1, 1, 3)),
    "constant pad without value": lambda fw: fw.nn.ConstantPad2d(2),
    "zero pad rank": lambda fw: fw.nn.ZeroPad2d(1)(fw.ones(3)),
    # resampling
    "interpolate size and scale": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4), size=2, scale_factor=2),
    "interpolate neither": lambda fw: fw.nn.functional.interpolate(fw.ones(1, 1, 4)),
    "interpolate mode": lambda fw: fw.nn.functional.interpolate(fw.ones(1, 1, 4), size=2,
                                                                mode="bad"),
    "interpolate size 0": lambda fw: fw.nn.functional.interpolate(fw.ones(1, 1, 4), size=0),
    "interpolate align_corners nearest": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4), size=2, align_corners=True),
    "interpolate linear on 4-d": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4, 4), size=2, mode="linear"),
    "interpolate linear integer input": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4, dtype=fw.int64), size=2, mode="linear"),
    "interpolate nearest integer input": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4, dtype=fw.int64), size=2),
    "interpolate 2-d input": lambda fw: fw.nn.functional.interpolate(fw.ones(4, 4), size=2),
    "interpolate size length": lambda fw: fw.nn.functional.interpolate(fw.ones(1, 1, 4, 4),
                                                                       size=(2, 2, 2)),
    "interpolate negative scale": lambda fw: fw.nn.functional.interpolate(
        fw.ones(1, 1, 4), scale_factor=-1.0),
    "upsample size 0": lambda fw: fw.nn.Upsample(size=0)(fw.ones(1, 1, 4)),
    "grid_sample batch": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(2, 1, 4, 4), fw.zeros(1, 2, 2, 2), align_corners=False),
    "grid_sample last dim": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(1, 1, 4, 4), fw.zeros(1, 2, 2, 3), align_corners=False),
    "grid_sample mode": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(1, 1, 4, 4), fw.zeros(1, 2, 2, 2), mode="bad", align_corners=False),
    "grid_sample grid dtype": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(1, 1, 4, 4), fw.zeros(1, 2, 2, 2, dtype=fw.float64), align_corners=False),
    "grid_sample integer input": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(1, 1, 4, 4, dtype=fw.int64), fw.zeros(1, 2, 2, 2, dtype=fw.int64),
        align_corners=False),
    "grid_sample list input": lambda fw: fw.nn.functional.grid_sample(
        [[[[1.0]]]], fw.zeros(1, 2, 2, 2), align_corners=False),
    "grid_sample list grid": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(1, 1, 4, 4), [[1.0]], align_corners=False),
    "affine_grid shape": lambda fw: fw.nn.functional.affine_grid(
        fw.ones(1, 3, 3), (1, 1, 4, 4), align_corners=False),
    "pixel_shuffle channels": lambda fw: fw.nn.PixelShuffle(2)(fw.ones(1, 3, 2, 2)),
    "pixel_shuffle factor 0": lambda fw: fw.nn.PixelShuffle(0)(fw.ones(1, 4, 2, 2)),
    "pixel_shuffle rank": lambda fw: fw.nn.PixelShuffle(2)(fw.ones(4, 2)),
    "pixel_unshuffle height": lambda fw: fw.nn.PixelUnshuffle(2)(fw.ones(1, 1, 3, 2)),
    "channel_shuffle channels": lambda fw: fw.nn.ChannelShuffle(2)(fw.ones(1, 3, 2, 2)),
    # folding and flattening
    "unfold 2-d input": lambda fw: fw.nn.Unfold(2)(fw.ones(4, 4)),
    "unfold 1-d input": lambda fw: fw.nn.functional.unfold(fw.ones(4), 2),
    "unfold 5-d input": lambda fw: fw.nn.functional.unfold(fw.ones(1, 1, 1, 4, 4), 2),
    "unfold kernel too large": lambda fw: fw.nn.Unfold(5)(fw.ones(1, 1, 4, 4)),
    "unfold kernel 0": lambda fw: fw.nn.Unfold(0)(fw.ones(1, 1, 4, 4)),
    "unfold stride 0": lambda fw: fw.nn.Unfold(2, stride=0)(fw.ones(1, 1, 4, 4)),
    "unfold dilation 0": lambda fw: fw.nn.Unfold(2, dilation=0)(fw.ones(1, 1, 4, 4)),
    "fold rank": lambda fw: fw.nn.Fold((4, 4), 2)(fw.ones(4)),
    "fold blocks": lambda fw: fw.nn.Fold((4, 4), 2)(fw.ones(1, 4, 5)),
    "fold channels": lambda fw: fw.nn.Fold((4, 4), 2)(fw.ones(1, 5, 9)),
    "flatten 0-d start_dim 1": lambda fw: fw.nn.Flatten()(fw.tensor(1.0)),
    "flatten 1-d start_dim 1": lambda fw: fw.nn.Flatten()(fw.ones(3)),
    "flatten dims reversed": lambda fw: fw.nn.Flatten(2, 1)(fw.ones(2, 3, 4)),
    "flatten list": lambda fw: fw.nn.Flatten()([[1.0, 2.0]]),
    "unflatten sizes": lambda fw: fw.nn.Unflatten(1, (2, 2))(fw.ones(2, 3)),
    # recurrent layers and cells
    "lstm input size mismatch": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 6)),
    "lstm rank": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(3)),
    "lstm hidden_size float": lambda fw: fw.nn.LSTM(3, 4.5),
    "lstm input_size float": lambda fw: fw.nn.LSTM(3.5, 4),
    "lstm input_size negative": lambda fw: fw.nn.LSTM(-3, 4),
    "lstm hidden_size 0": lambda fw: fw.nn.LSTM(3, 0),
    "lstm num_layers 0": lambda fw: fw.nn.LSTM(3, 4, num_layers=0),
    "lstm num_layers float": lambda fw: fw.nn.LSTM(3, 4, num_layers=1.5),
    "lstm dropout 2": lambda fw: fw.nn.LSTM(3, 4, dropout=2.0),
    "lstm proj_size too large": lambda fw: fw.nn.LSTM(3, 4, proj_size=4),
    "lstm dtype": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3, dtype=fw.float64)),
    "lstm integer input": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3, dtype=fw.int64)),
    "lstm empty sequence": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(0, 2, 3)),
    "lstm state shape": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), (fw.zeros(1, 3, 4),
                                                                      fw.zeros(1, 3, 4))),
    "lstm state not a pair": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), fw.zeros(1, 2, 4)),
    "lstm one state": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), (fw.zeros(1, 2, 4),)),
    "lstm three states": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), (fw.zeros(1, 2, 4),) * 3),
    "lstm state dtype": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), (
        fw.zeros(1, 2, 4, dtype=fw.float64), fw.zeros(1, 2, 4, dtype=fw.float64))),
    "gru state dtype": lambda fw: fw.nn.GRU(3, 4)(fw.ones(5, 2, 3),
                                                  fw.zeros(1, 2, 4, dtype=fw.float64)),
    "lstm list input": lambda fw: fw.nn.LSTM(1, 4)([[[1.0]]]),
    "gru state shape": lambda fw: fw.nn.GRU(3, 4)(fw.ones(5, 2, 3), fw.zeros(2, 2, 4)),
    "gru proj_size": lambda fw: fw.nn.GRU(3, 4, proj_size=2),
    "gru state rank": lambda fw: fw.nn.GRU(3, 4)(fw.ones(5, 2, 3), fw.zeros(2, 4)),
    "gru state tuple": lambda fw: fw.nn.GRU(3, 4)(fw.ones(5, 2, 3), (fw.zeros(1, 2, 4),)),
    "rnn nonlinearity": lambda fw: fw.nn.RNN(3, 4, nonlinearity="bad"),
    "lstm_cell input size": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 5)),
    "lstm_cell batch": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 3), (fw.zeros(3, 4),
                                                                      fw.zeros(3, 4))),
    "lstm_cell rank": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(1, 2, 3)),
    "lstm_cell dtype": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 3, dtype=fw.float64)),
    "lstm_cell state dtype": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 3), (
        fw.zeros(2, 4, dtype=fw.float64), fw.zeros(2, 4, dtype=fw.float64))),
    "lstm_cell state not a pair": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 3),
                                                                  fw.zeros(2, 4)),
    "lstm_cell list input": lambda fw: fw.nn.LSTMCell(1, 4)([[1.0]]),
    "lstm_cell hidden_size float": lambda fw: fw.nn.LSTMCell(3, 4.5),
    "gru_cell hidden size": lambda fw: fw.nn.GRUCell(3, 4)(fw.ones(2, 3), fw.zeros(2, 5)),
    "gru_cell integer input": lambda fw: fw.nn.GRUCell(3, 4)(fw.ones(2, 3, dtype=fw.int64)),
    "rnn_cell nonlinearity": lambda fw: fw.nn.RNNCell(3, 4, nonlinearity="bad")(
        fw.ones(2, 3)),
    "pack unsorted lengths": lambda fw: fw.nn.utils.rnn.pack_padded_sequence(
        fw.ones(4, 2, 3), [2, 3]),
    "pack zero length": lambda fw: fw.nn.utils.rnn.pack_padded_sequence(fw.ones(4, 2, 3),
                                                                        [3, 0]),
    "pack lengths count": lambda fw: fw.nn.utils.rnn.pack_padded_sequence(fw.ones(4, 2, 3),
                                                                          [3, 2, 1]),
    "pack 2-d lengths": lambda fw: fw.nn.utils.rnn.pack_padded_sequence(fw.ones(4, 2, 3),
                                                                        [[3], [2]]),
    "pad_sequence empty": lambda fw: fw.nn.utils.rnn.pad_sequence([]),
    "pad_sequence sizes": lambda fw: fw.nn.utils.rnn.pad_sequence([fw.ones(2, 3),
                                                                   fw.ones(2, 4)]),
    "pad_sequence of numbers": lambda fw: fw.nn.utils.rnn.pad_sequence([1, 2]),
    "pad_packed total_length": lambda fw: fw.nn.utils.rnn.pad_packed_sequence(
        fw.nn.utils.rnn.pack_sequence([fw.ones(3, 2)]), total_length=2),
    "pack_sequence empty": lambda fw: fw.nn.utils.rnn.pack_sequence([]),
    "pack_sequence unsorted": lambda fw: fw.nn.utils.rnn.pack_sequence([fw.ones(2, 3),
                                                                        fw.ones(3, 3)]),
    # lists where tensors belong (PyTorch: TypeError from its argument parser, or AttributeError
    # where the function is written in Python; ember's message names the function either way)
    "adaptive_avg_pool1d list": lambda fw: fw.nn.functional.adaptive_avg_pool1d([[[1.0]]], 1),
    "adaptive_avg_pool2d list": lambda fw: fw.nn.functional.adaptive_avg_pool2d([[[1.0]]], 1),
    "adaptive_max_pool2d list": lambda fw: fw.nn.functional.adaptive_max_pool2d([[[1.0]]], 1),
    "lp_pool2d list": lambda fw: fw.nn.functional.lp_pool2d([[[1.0]]], 2, 1),
    "interpolate list": lambda fw: fw.nn.functional.interpolate([[[1.0, 2.0]]], size=2),
    "upsample list": lambda fw: fw.nn.Upsample(scale_factor=2)([[[1.0]]]),
    "pixel_shuffle list": lambda fw: fw.nn.functional.pixel_shuffle([[[1.0]]], 1),
    "reflection pad list": lambda fw: fw.nn.ReflectionPad1d(1)([[[1.0]]]),
    "unfold list": lambda fw: fw.nn.Unfold(1)([[[[1.0]]]]),
    "fold list": lambda fw: fw.nn.Fold(1, 1)([[[1.0]]]),
    "rnn list": lambda fw: fw.nn.RNN(1, 4)([[[1.0]]]),
    "gru list": lambda fw: fw.nn.GRU(1, 4)([[[1.0]]]),
    "rnn list state": lambda fw: fw.nn.RNN(3, 4)(fw.ones(5, 2, 3), [[1.0]]),
    "lstm list states": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 2, 3), ([[1.0]], [[1.0]])),
    "gru_cell list": lambda fw: fw.nn.GRUCell(1, 4)([[1.0]]),
    "rnn_cell list": lambda fw: fw.nn.RNNCell(1, 4)([[1.0]]),
    "gru_cell list state": lambda fw: fw.nn.GRUCell(3, 4)(fw.ones(2, 3), [[1.0]]),
    "lstm_cell list states": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(2, 3),
                                                             ([[1.0]], [[1.0]])),
}

# Where PyTorch's own answer is a silent wrong result, ember raises what the mistake calls for:
# name -> (call, ember's exception type, what PyTorch does).
DEVIATIONS = {
    "pack lengths beyond the padded length": (
        lambda fw: fw.nn.utils.rnn.pack_padded_sequence(fw.ones(4, 2, 3), [5, 3]),
        RuntimeError, "packs rows past the end of the batch"),
    "lstm on packed rows of the wrong size": (
        lambda fw: fw.nn.LSTM(3, 4)(fw.nn.utils.rnn.pack_sequence([fw.ones(3, 5)])),
        RuntimeError, "returns an output"),
}

# Phrases of NumPy's and Python's internal errors, which a user of a layer must never see.
INTERNAL_PHRASES = ["has no attribute", "cannot reshape array", "ufunc", "could not be broadcast",
                    "object is not iterable", "values to unpack", "unsupported operand",
                    "division or modulo by zero", "argmax of an empty sequence",
                    "arg is an empty sequence", "invalid literal"]


def _raised(call, framework):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as error:
            call(framework)
    return error


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_raises_torch_exception_type(torch, name):
    expected = _raised(CASES[name], torch).type
    error = _raised(CASES[name], ember)
    # torch's own exception classes derive from the builtin ones.
    builtin = next(base for base in expected.__mro__ if base.__module__ == "builtins")
    assert issubclass(error.type, builtin), (name, error.type, error.value, expected)
    message = str(error.value)
    assert message and not any(phrase in message for phrase in INTERNAL_PHRASES), message


@pytest.mark.parametrize("name", list(DEVIATIONS))
def test_misuse_where_torch_errs_inside(name):
    call, error_type, _ = DEVIATIONS[name]
    error = _raised(call, ember)
    assert error.type is error_type, (error.type, error.value)
    assert not any(phrase in str(error.value) for phrase in INTERNAL_PHRASES)


# name -> call(framework): PyTorch accepts these edge cases; ember gives the same result.
VALUES = {
    "linear without input features": lambda fw: fw.nn.functional.linear(
        fw.ones(2, 0), fw.ones(3, 0), fw.arange(3.0)),
    "linear without output features": lambda fw: fw.nn.functional.linear(fw.ones(2, 3),
                                                                         fw.ones(0, 3)),
    "linear empty batch": lambda fw: fw.nn.functional.linear(fw.ones(0, 3), fw.ones(4, 3)),
    "linear 1-d weight": lambda fw: fw.nn.functional.linear(fw.arange(6.0).reshape(2, 3),
                                                            fw.arange(3.0)),
    "linear 1-d input": lambda fw: fw.nn.functional.linear(fw.arange(3.0),
                                                           fw.arange(12.0).reshape(4, 3)),
    "linear broadcast bias": lambda fw: fw.nn.functional.linear(
        fw.ones(2, 3), fw.ones(4, 3), fw.tensor([0.5])),
    "linear integers": lambda fw: fw.nn.functional.linear(
        fw.arange(6).reshape(2, 3), fw.arange(12).reshape(4, 3)),
    "conv empty batch": lambda fw: fw.nn.functional.conv2d(fw.ones(0, 3, 5, 5),
                                                           fw.ones(4, 3, 3, 3), fw.ones(4)),
    "conv integers": lambda fw: fw.nn.functional.conv2d(
        fw.arange(75).reshape(1, 3, 5, 5), fw.arange(54).reshape(2, 3, 3, 3)),
    "conv_transpose empty batch": lambda fw: fw.nn.functional.conv_transpose2d(
        fw.ones(0, 3, 5, 5), fw.ones(3, 4, 3, 3)),
    "max_pool empty batch": lambda fw: fw.nn.functional.max_pool2d(fw.ones(0, 3, 4, 4), 2),
    "max_pool integers": lambda fw: fw.nn.functional.max_pool2d(
        fw.tensor([[[[-3, 1], [1, -2]]]], dtype=fw.int32), 2),
    "avg_pool empty batch": lambda fw: fw.nn.functional.avg_pool2d(fw.ones(0, 3, 4, 4), 2),
    "avg_pool int64 truncates": lambda fw: fw.nn.functional.avg_pool2d(
        fw.tensor([[[[-7, 1], [1, 0]], [[7, 1], [1, 0]]]]), 2),
    "avg_pool1d int64 with padding": lambda fw: fw.nn.functional.avg_pool1d(
        fw.tensor([[[-3, 5, 2]]]), 2, padding=1),
    "adaptive_max empty batch": lambda fw: fw.nn.functional.adaptive_max_pool2d(
        fw.ones(0, 3, 4, 4), 2),
    "adaptive_avg empty batch": lambda fw: fw.nn.functional.adaptive_avg_pool2d(
        fw.ones(0, 3, 4, 4), 2),
    "interpolate empty batch": lambda fw: fw.nn.functional.interpolate(fw.ones(0, 3, 4, 4),
                                                                       scale_factor=2),
    "grid_sample empty batch": lambda fw: fw.nn.functional.grid_sample(
        fw.ones(0, 1, 4, 4), fw.zeros(0, 2, 2, 2), align_corners=False),
    "pad reflect integers": lambda fw: fw.nn.functional.pad(
        fw.arange(5).reshape(1, 1, 5), (2, 1), mode="reflect"),
    "unfold empty batch": lambda fw: fw.nn.functional.unfold(fw.ones(0, 3, 5, 5), 2),
    "flatten 0-d start_dim 0": lambda fw: fw.nn.Flatten(0)(fw.tensor(1.0)),
    "lstm empty batch": lambda fw: fw.nn.LSTM(3, 4)(fw.ones(5, 0, 3))[0],
    "gru empty batch": lambda fw: fw.nn.GRU(3, 4)(fw.ones(5, 0, 3))[1],
    "lstm_cell empty batch": lambda fw: fw.nn.LSTMCell(3, 4)(fw.ones(0, 3))[1],
    "lstm state as a list": lambda fw: fw.nn.LSTM(3, 4, bias=False)(
        fw.ones(2, 1, 3), [fw.zeros(1, 1, 4), fw.zeros(1, 1, 4)])[0] * 0,
}


@pytest.mark.parametrize("name", list(VALUES))
def test_edge_cases_give_torch_results(torch, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = VALUES[name](torch).detach()
        result = VALUES[name](ember).detach()
    assert tuple(result.shape) == tuple(expected.shape)
    assert str(result.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_failed_calls_leave_the_layers_unchanged():
    """Validate, then compute: a refused call changes no parameter and records no gradient."""
    layers = [ember.nn.Linear(3, 4), ember.nn.Conv2d(3, 4, 3), ember.nn.LSTM(3, 4)]
    before = [{key: value.numpy().copy() for key, value in layer.state_dict().items()}
              for layer in layers]
    calls = [lambda: layers[0](ember.ones(2, 5)),
             lambda: layers[1](ember.ones(1, 3, 5, 5, dtype=ember.float64)),
             lambda: layers[2](ember.ones(5, 2, 3), (ember.zeros(1, 3, 4),) * 2)]
    for call in calls:
        with pytest.raises(RuntimeError):
            call()
    for layer, state in zip(layers, before):
        for key, value in layer.state_dict().items():
            np.testing.assert_array_equal(value.numpy(), state[key])
        assert all(parameter.grad is None for parameter in layer.parameters())
