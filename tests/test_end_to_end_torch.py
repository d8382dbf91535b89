"""A whole PyTorch-style training script, run once with torch and once with ember from the same
weights and data: losses, learning rates, BatchNorm buffers and final weights must agree."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _script(fw, data_module, initial_state=None):
    """The same script for both frameworks (``fw`` is torch or ember)."""
    nn = fw.nn
    functional = nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                # No bias before BatchNorm: its gradient is zero up to rounding, and Adam would
                # turn that rounding noise into full-size steps in either framework.
                nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, stride=2), nn.GELU())
            self.norm = nn.LayerNorm(64)
            self.head = nn.Linear(64, 5)

        def forward(self, x):
            x = fw.flatten(self.features(x), 1)
            return self.head(functional.silu(self.norm(x)))

    rng = np.random.RandomState(0)
    inputs = rng.randn(96, 3, 12, 12).astype(np.float32)
    labels = rng.randint(0, 5, 96)
    fw.manual_seed(0)
    model = Net()
    if initial_state is not None:
        model.load_state_dict({key: fw.from_numpy(value.copy())
                               for key, value in initial_state.items()})
    state = {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
    optimizer = fw.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05, amsgrad=True)
    scheduler = fw.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=9)
    loader = data_module.DataLoader(
        data_module.TensorDataset(fw.from_numpy(inputs), fw.from_numpy(labels)), batch_size=32)
    history = []
    for _ in range(3):
        model.train()
        for batch_inputs, batch_labels in loader:
            optimizer.zero_grad()
            loss = functional.cross_entropy(model(batch_inputs), batch_labels,
                                            label_smoothing=0.1)
            loss.backward()
            fw.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            history.append((loss.item(), scheduler.get_last_lr()[0]))
        model.eval()
        with fw.no_grad():
            logits = model(fw.from_numpy(inputs))
        history.append((logits.abs().mean().item(), logits.std().item()))
    final = {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
    return state, history, final


def test_training_script_matches_torch_step_for_step():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: torch's reductions then sum in a fixed order
    try:
        state, torch_history, torch_final = _script(torch, torch.utils.data)
    finally:
        torch.set_num_threads(threads)
    _, ember_history, ember_final = _script(ember, ember.utils.data, initial_state=state)
    np.testing.assert_allclose(np.array(ember_history), np.array(torch_history),
                               rtol=1e-5, atol=1e-6)
    assert list(ember_final) == list(torch_final)
    for key, expected in torch_final.items():
        np.testing.assert_allclose(ember_final[key], expected, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    assert int(ember_final["features.1.num_batches_tracked"]) == 9
