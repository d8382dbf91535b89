"""torch.hub (ember.hub): entry points of a hubconf.py, checkpoints fetched from a URL into the
cache (file:// URLs here: no network), hash checks, the cache directory; torch.utils.model_zoo."""
import os

import pytest

import ember

HUBCONF = ('dependencies = ["numpy"]\n\n\ndef tiny(scale=1):\n    """A tiny model."""\n'
           '    return scale * 2\n\n\ndef _private():\n    pass\n\n\nhelper = 3\n')


def _outcomes(library, folder):
    hub = library.hub
    results = [hub.load(str(folder), "tiny", 5, source="local"),
               hub.load(str(folder), "tiny", source="LOCAL", scale=2)]
    for call in (lambda: hub.load(str(folder), "nope", source="local"),
                 lambda: hub.load(str(folder), "tiny", source="foo"),
                 lambda: hub.load(str(folder), "helper", source="local")):
        with pytest.raises(Exception) as caught:
            call()
        results.append((type(caught.value).__name__, str(caught.value)))
    source = folder / "w-abcdef12.pth"
    library.save({"w": library.ones(2)}, str(source))
    loaded = hub.load_state_dict_from_url(f"file://{source}", model_dir=str(folder / "ck"),
                                          progress=False)
    results.append((sorted(loaded), loaded["w"].tolist(), os.listdir(folder / "ck")))
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "abcdef12"'):
        hub.load_state_dict_from_url(f"file://{source}", model_dir=str(folder / "ck2"),
                                     check_hash=True, progress=False)
    results.append(os.listdir(folder / "ck2"))
    hub.download_url_to_file(f"file://{source}", str(folder / "copy.pth"), progress=False)
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub.download_url_to_file(f"file://{source}", str(folder / "copy2.pth"), "00", False)
    results.append(sorted(name for name in os.listdir(folder) if name.startswith("copy")))
    results.append((hub.HASH_REGEX.pattern, hub.MODULE_HUBCONF, hub.VAR_DEPENDENCY,
                    hub.ENV_TORCH_HOME, hub.READ_DATA_CHUNK))
    return results


def test_hub_like_torch(torch, tmp_path):
    for name, library in (("ember", ember), ("torch", torch)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "hubconf.py").write_text(HUBCONF)
        if name == "ember":
            ours = _outcomes(library, folder)
        else:
            theirs = _outcomes(library, folder)
    assert ours == theirs


def test_hub_dir_and_a_cached_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    assert ember.hub.get_dir() == str(tmp_path / "home" / "hub")
    ember.hub.set_dir(str(tmp_path / "hub"))
    try:
        cached = tmp_path / "hub" / "pytorch_vision_main"
        cached.mkdir(parents=True)
        (cached / "hubconf.py").write_text(HUBCONF)
        assert ember.hub.list("pytorch/vision", verbose=False) == ["tiny"]
        assert ember.hub.help("pytorch/vision", "tiny") == "A tiny model."
        assert ember.hub.load("pytorch/vision", "tiny", 4, verbose=False) == 8
        (cached / "hubconf.py").write_text('dependencies = ["no_such_package_x"]\n')
        with pytest.raises(RuntimeError, match="Missing dependencies: no_such_package_x"):
            ember.hub.list("pytorch/vision", verbose=False)
    finally:
        ember.hub._hub_dir[0] = None


def test_model_zoo_is_hubs_loader(tmp_path):
    from ember.utils import model_zoo
    assert model_zoo.load_url is ember.hub.load_state_dict_from_url


def test_hub_reexports_tqdm_as_torch_does(torch):
    """pytorch/examples' vision_transformer does ``from torch.hub import tqdm``: the tqdm
    package's class where it is installed, as PyTorch's hub gives it."""
    assert (ember.hub.tqdm is torch.hub.tqdm) or torch.hub.tqdm.__name__ == "_Faketqdm"


def test_hub_progress_fallback_iterates_and_takes_progress_calls():
    progress = ember.hub._PlainProgress([1, 2, 3], desc="EPOCH")
    seen = []
    for item in progress:
        seen.append(item)
        progress.set_postfix({"Loss": "1.0"})
        progress.update()
    with progress:
        progress.set_description("done")
    assert seen == [1, 2, 3] and progress.n == 3 and progress.disable
