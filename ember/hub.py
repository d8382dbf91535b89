"""``torch.hub``: checkpoints fetched from a URL into a local cache (``load_state_dict_from_url``,
``download_url_to_file``) and models built by the entry points of a repository's ``hubconf.py``
(``load``, ``list``, ``help``), from a local directory or a GitHub repository downloaded once.
The cache lives where PyTorch keeps it: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``,
else ``~/.cache/torch/hub``."""
import builtins
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from .serialization import load as _load

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url",
           "set_dir"]

ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
VAR_DEPENDENCY = "dependencies"
MODULE_HUBCONF = "hubconf.py"
READ_DATA_CHUNK = 128 * 1024
# A checkpoint's file name may end in "-<the first hex digits of its SHA-256>.<extension>".
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_TRUSTED_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")

_hub_dir = [None]


class _PlainProgress:
    """``torch.hub.tqdm`` where the tqdm package is absent: the calls scripts make on a progress
    bar, accepted; iterating it iterates what it wraps (code that imports tqdm from here loops
    over it)."""

    def __init__(self, iterable=None, desc=None, total=None, disable=False, **kwargs):
        self.iterable = iterable
        self.total = total
        self.disable = disable
        self.n = 0

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n=1):
        self.n += n

    def set_description(self, *args, **kwargs):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def write(self, text):
        sys.stderr.write(f"{text}\n")

    def close(self):
        self.disable = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()


try:  # PyTorch's hub re-exports tqdm when it is installed (ViT examples import it from here)
    from tqdm import tqdm
except ImportError:
    tqdm = _PlainProgress


def get_dir():
    """The directory of the hub's cache (``set_dir``'s, else under $TORCH_HOME)."""
    if _hub_dir[0] is not None:
        return _hub_dir[0]
    torch_home = os.path.expanduser(os.getenv(
        ENV_TORCH_HOME, os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")))
    return os.path.join(torch_home, "hub")


def set_dir(d):
    """Use ``d`` as the hub's cache directory from now on."""
    _hub_dir[0] = os.path.expanduser(d)


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Save the object at ``url`` to ``dst`` (through a temporary file beside it, so ``dst``
    never holds a partial download); RuntimeError when its SHA-256 does not start with
    ``hash_prefix``. ``progress`` is accepted; ember prints no progress bar."""
    request = Request(url, headers={"User-Agent": "torch.hub"})
    destination = os.path.abspath(os.path.expanduser(dst))
    folder = os.path.dirname(destination)
    handle = tempfile.NamedTemporaryFile(delete=False, dir=folder, prefix=".partial-")
    try:
        digest = hashlib.sha256()
        with urlopen(request) as response, handle:
            while True:
                chunk = response.read(READ_DATA_CHUNK)
                if not chunk:
                    break
                handle.write(chunk)
                digest.update(chunk)
        if hash_prefix is not None:
            found = digest.hexdigest()
            if found[:len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                   f'"{found}")')
        shutil.move(handle.name, destination)
    finally:
        if os.path.exists(handle.name):
            os.remove(handle.name)


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """The object saved at ``url``, downloaded once into ``model_dir`` (the hub's
    ``checkpoints`` folder by default) and read by ``ember.load``; ``check_hash`` checks the
    file against the hash prefix in its name (``name-<hex>.pth``)."""
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stderr.write(f'Downloading: "{url}" to {cached_file}\n')
        prefix = None
        if check_hash:
            match = HASH_REGEX.search(filename)
            prefix = match.group(1) if match else None
        download_url_to_file(url, cached_file, prefix, progress=progress)
    return _load(cached_file, map_location=map_location, weights_only=weights_only)


def _repository(repo_or_dir, source, force_reload, trust_repo, verbose, calling_fn):
    """The local directory holding the repository's hubconf.py: ``repo_or_dir`` itself for a
    local source, else the GitHub repository ``owner/name[:ref]`` downloaded into the cache."""
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "local":
        return repo_or_dir
    owner, _, rest = repo_or_dir.partition("/")
    name, _, ref = rest.partition(":")
    ref = ref or "main"
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    _check_trust(owner, name, hub_dir, trust_repo, calling_fn)
    folder = os.path.join(hub_dir, "_".join((owner, name, ref.replace("/", "_"))))
    if os.path.exists(folder) and not force_reload:
        if verbose:
            sys.stderr.write(f"Using cache found in {folder}\n")
        return folder
    archive = os.path.join(hub_dir, ref.replace("/", "_") + ".zip")
    url = f"https://github.com/{owner}/{name}/zipball/{ref}"
    sys.stderr.write(f'Downloading: "{url}" to {archive}\n')
    download_url_to_file(url, archive, progress=False)
    with zipfile.ZipFile(archive) as packed:
        top = packed.namelist()[0].split("/")[0]
        shutil.rmtree(folder, ignore_errors=True)
        packed.extractall(hub_dir)
    os.remove(archive)
    shutil.move(os.path.join(hub_dir, top), folder)
    return folder


def _check_trust(owner, name, hub_dir, trust_repo, calling_fn):
    """PyTorch's trust check of a GitHub repository before its code runs: its owner is
    trusted, or the repository is in the hub's trusted_list, or the caller says so."""
    listed = os.path.join(hub_dir, "trusted_list")
    trusted = set()
    if os.path.exists(listed):
        with open(listed) as handle:
            trusted = {line.strip() for line in handle}
    key = f"{owner}_{name}"
    if owner in _TRUSTED_OWNERS or key in trusted or trust_repo is True:
        if trust_repo is True and key not in trusted and owner not in _TRUSTED_OWNERS:
            with open(listed, "a") as handle:
                handle.write(key + "\n")
        return
    if trust_repo is None:
        warnings.warn(f"You are about to download and run code from an untrusted repository. "
                      f"To add the repository to your trusted list, call {calling_fn}(..., "
                      f"trust_repo=True) or answer the prompt that trust_repo=False or 'check' "
                      f"shows.", stacklevel=4)
        return
    answer = builtins.input(f"The repository {owner}/{name} does not belong to the list of "
                            f"trusted repositories and as such cannot be downloaded. Do you "
                            f"trust this repository and wish to add it to the trusted list of "
                            f"repositories (y/N)?")
    if answer.lower() not in ("y", "yes"):
        raise Exception("Untrusted repository.")
    with open(listed, "a") as handle:
        handle.write(key + "\n")


def _hubconf(folder):
    """The repository's hubconf module, its listed dependencies checked."""
    path = os.path.join(folder, MODULE_HUBCONF)
    specification = importlib.util.spec_from_file_location("hubconf", path)
    module = importlib.util.module_from_spec(specification)
    sys.path.insert(0, folder)
    try:
        specification.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    missing = [package for package in getattr(module, VAR_DEPENDENCY, [])
               if importlib.util.find_spec(package) is None]
    if missing:
        raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    return module


def _entry(module, model):
    function = getattr(module, model, None) if isinstance(model, str) else None
    if function is None or not callable(function):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return function


def list(github, force_reload=False, skip_validation=False, trust_repo="check", verbose=True):
    """The names of the entry points (public callables) of the repository's hubconf.py."""
    module = _hubconf(_repository(github, "github", force_reload, trust_repo, verbose, "list"))
    return [name for name in dir(module)
            if callable(getattr(module, name)) and not name.startswith("_")]


def help(github, model, force_reload=False, skip_validation=False, trust_repo="check"):
    """The docstring of the entry point ``model``."""
    module = _hubconf(_repository(github, "github", force_reload, trust_repo, True, "help"))
    return _entry(module, model).__doc__


def load(repo_or_dir, model, *args, source="github", trust_repo="check", force_reload=False,
         verbose=True, skip_validation=False, **kwargs):
    """``model(*args, **kwargs)``, the entry point of the repository's (or local directory's)
    hubconf.py."""
    source = source.lower()
    folder = _repository(repo_or_dir, source, force_reload, trust_repo, verbose, "load")
    return _entry(_hubconf(folder), model)(*args, **kwargs)
