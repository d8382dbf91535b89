"""Derivatives of every order of a layer against torch's: each order is the vector-Jacobian
product of the previous order's gradients with fixed cotangents, all recorded (create_graph)
except the last."""
import numpy as np

import ember


def _cotangent(shape, order, dtype):
    """A fixed, deterministic cotangent for the gradients of one order."""
    size = int(np.prod(shape))
    return np.cos(np.arange(size) * 0.7 + order).reshape(shape).astype(dtype)


def derivatives(framework, fn, arrays, orders):
    """The gradients of orders 1..``orders`` of ``fn(framework, *inputs)`` with respect to its
    inputs, as arrays (None where an input does not reach the gradients)."""
    inputs = [framework.tensor(array, requires_grad=True) for array in arrays]
    output = fn(framework, *inputs)
    targets = [output]
    results = []
    for order in range(1, orders + 1):
        if not targets:  # the previous gradients are constant: every higher order is zero
            results.append([None] * len(inputs))
            continue
        cotangents = [framework.tensor(_cotangent(tuple(target.shape), order, arrays[0].dtype))
                      for target in targets]
        grads = framework.autograd.grad(targets, inputs, grad_outputs=cotangents,
                                        create_graph=order < orders, allow_unused=True)
        results.append([None if grad is None else grad.detach().numpy().copy()
                        for grad in grads])
        targets = [grad for grad in grads if grad is not None and grad.requires_grad]
    return results


def assert_derivatives_match_torch(torch, fn, arrays, orders=2, rtol=1e-9, atol=1e-9):
    """ember's derivatives of ``fn`` up to ``orders`` equal torch's (None equals zeros)."""
    ours = derivatives(ember, fn, arrays, orders)
    theirs = derivatives(torch, fn, arrays, orders)
    assert len(ours) == len(theirs)
    for order, (our_grads, their_grads) in enumerate(zip(ours, theirs), start=1):
        for index, (mine, expected) in enumerate(zip(our_grads, their_grads)):
            message = f"order {order}, input {index}"
            if mine is None or expected is None:
                other = expected if mine is None else mine
                assert other is None or not np.any(other), message
                continue
            assert mine.dtype == expected.dtype, message
            np.testing.assert_allclose(mine, expected, rtol=rtol, atol=atol, err_msg=message)


def random_arrays(shapes, dtype=np.float64, seed=0):
    random = np.random.default_rng(seed)
    return [random.standard_normal(shape).astype(dtype) for shape in shapes]
