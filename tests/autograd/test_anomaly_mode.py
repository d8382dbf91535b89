"""Anomaly detection against PyTorch: the switches and their nesting, the NaN error naming the
backward function, check_nan=False, the warning on entry."""
import warnings

import pytest

import ember


def _nan_backward(framework):
    """sqrt's backward at 0 is inf, times the 0 of the product: NaN from SqrtBackward0."""
    x = framework.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()
    return x.grad


def test_states_and_nesting_match_torch(torch):
    for framework in (ember, torch):
        autograd = framework.autograd
        states = [(framework.is_anomaly_enabled(), framework.is_anomaly_check_nan_enabled())]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with autograd.detect_anomaly():
                states.append((framework.is_anomaly_enabled(),
                               framework.is_anomaly_check_nan_enabled()))
                with autograd.set_detect_anomaly(True, check_nan=False):
                    states.append((framework.is_anomaly_enabled(),
                                   framework.is_anomaly_check_nan_enabled()))
                states.append((framework.is_anomaly_enabled(),))
        states.append((framework.is_anomaly_enabled(),))
        autograd.set_detect_anomaly(True)
        states.append((framework.is_anomaly_enabled(),))
        autograd.set_detect_anomaly(False)
        states.append((framework.is_anomaly_enabled(),))
        assert states == [(False, True), (True, True), (True, False), (True,), (False,),
                          (True,), (False,)]
        assert [str(warning.message) for warning in caught] == [
            "Anomaly Detection has been enabled. This mode will increase the runtime and should "
            "only be enabled for debugging."]


def test_nan_in_backward_is_an_error_naming_the_function(torch):
    for framework in (ember, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with framework.autograd.detect_anomaly():
                with pytest.raises(RuntimeError,
                                   match="^Function 'SqrtBackward0' returned nan values in its "
                                         "0th output.$"):
                    _nan_backward(framework)
            with framework.autograd.set_detect_anomaly(True, check_nan=False):
                grad = _nan_backward(framework)
        assert grad.isnan().tolist() == [True, False]
        assert _nan_backward(framework).isnan().tolist() == [True, False]  # off: no check


def _retry_after_nan_error(framework):
    """The NaN error of a backward without retain_graph, then the same backward again: the
    node that returned NaN has freed its saved values already (PyTorch checks after that)."""
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with framework.autograd.detect_anomaly():
            x = framework.tensor([0.0, 1.0], requires_grad=True)
            root = x.sqrt()
            for _ in range(2):
                with pytest.raises(RuntimeError) as error:
                    root.backward(framework.tensor([0.0, 1.0]))
                errors.append(str(error.value))
    return errors


def test_a_backward_retried_after_a_nan_error_meets_freed_values_as_torch(torch):
    errors = _retry_after_nan_error(ember)
    assert errors == _retry_after_nan_error(torch)
    assert errors[1].startswith("Trying to backward through the graph a second time")


def test_anomaly_mode_decorates_and_restores_after_an_error():
    @ember.autograd.set_detect_anomaly(True)
    def inside():
        return ember.is_anomaly_enabled()

    ember.autograd.set_detect_anomaly(False)
    assert inside() and not ember.is_anomaly_enabled()
    with pytest.warns(UserWarning):
        manager = ember.autograd.detect_anomaly()
    with pytest.raises(RuntimeError):
        with manager:
            _nan_backward(ember)
    assert not ember.is_anomaly_enabled()
