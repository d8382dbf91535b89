"""Download, verify and extract dataset files the way torchvision does (urllib, MD5), with one
clear line instead of urllib's traceback when a file cannot be fetched."""
import bz2
import gzip
import hashlib
import lzma
import os
import pathlib
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile

USER_AGENT = "ember/vision"
# Seconds a connection or a read may stall before the download fails (urllib waits forever).
TIMEOUT = 60


def calculate_md5(fpath, chunk_size=1024 * 1024):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as file:
        while chunk := file.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath, md5, **kwargs):
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5=None):
    """True when ``fpath`` is a file and, if ``md5`` is given, its checksum matches."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


class DownloadError(RuntimeError):
    """A file could not be fetched; the message says which one and where to put it by hand."""

    def __init__(self, message, url=None, reason=None):
        super().__init__(message)
        self.url = url
        self.reason = reason


def _urlretrieve(url, fpath, chunk_size=1024 * 32):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    partial = fpath + ".part"
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response, \
            open(partial, "wb") as file:
        shutil.copyfileobj(response, file, chunk_size)
    os.replace(partial, fpath)


def _describe(error):
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error)


def download_url(url, root, filename=None, md5=None, max_redirect_hops=3):
    """Fetch ``url`` into ``root/filename`` unless a verified copy is there; check the MD5."""
    root = os.path.expanduser(os.fspath(root))
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        print("Using downloaded and verified file: " + fpath)
        return
    print(f"Downloading {url} to {fpath}")
    try:
        try:
            _urlretrieve(url, fpath)
        except (urllib.error.URLError, OSError):
            if not url.startswith("https"):
                raise
            url = "http" + url[len("https"):]
            print(f"Failed download. Trying https -> http instead. Downloading {url} to {fpath}")
            _urlretrieve(url, fpath)
    except (urllib.error.URLError, OSError) as error:
        reason = _describe(error)
        raise DownloadError(f"could not download {filename} from {url} ({reason}); download it "
                            f"yourself and put it at {fpath}", url, reason) from None
    if not check_integrity(fpath, md5):
        raise DownloadError(f"{fpath} is corrupted (MD5 is not {md5}); delete it and download "
                            f"{url} again", url, "MD5 mismatch")


def _extract_tar(from_path, to_path, compression):
    with tarfile.open(from_path, f"r:{compression[1:]}" if compression else "r") as archive:
        # The "data" filter refuses absolute paths, links out of the folder and device files.
        if hasattr(tarfile, "data_filter"):
            archive.extractall(to_path, filter="data")
        else:
            archive.extractall(to_path)


def _extract_zip(from_path, to_path, compression):
    with zipfile.ZipFile(from_path, "r") as archive:
        archive.extractall(to_path)


_ARCHIVE_EXTRACTORS = {".tar": _extract_tar, ".zip": _extract_zip}
_COMPRESSED_FILE_OPENERS = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}
_FILE_TYPE_ALIASES = {".tbz": (".tar", ".bz2"), ".tbz2": (".tar", ".bz2"),
                      ".tgz": (".tar", ".gz")}


def _detect_file_type(file):
    """(suffix, archive type or None, compression or None) from the file name."""
    suffixes = pathlib.Path(file).suffixes
    if not suffixes:
        raise RuntimeError(f"File '{file}' has no suffixes that could be used to detect the "
                           f"archive type and compression.")
    suffix = suffixes[-1]
    if suffix in _FILE_TYPE_ALIASES:
        return (suffix, *_FILE_TYPE_ALIASES[suffix])
    if suffix in _ARCHIVE_EXTRACTORS:
        return suffix, suffix, None
    if suffix in _COMPRESSED_FILE_OPENERS:
        if len(suffixes) > 1 and suffixes[-2] in _ARCHIVE_EXTRACTORS:
            return suffixes[-2] + suffix, suffixes[-2], suffix
        return suffix, None, suffix
    known = sorted(set(_FILE_TYPE_ALIASES) | set(_ARCHIVE_EXTRACTORS)
                   | set(_COMPRESSED_FILE_OPENERS))
    raise RuntimeError(f"Unknown compression or archive type: '{suffix}'. Known suffixes are: "
                       f"'{known}'.")


def extract_archive(from_path, to_path=None, remove_finished=False):
    """Extract a .tar/.zip (optionally compressed) or decompress a .gz/.bz2/.xz file."""
    from_path = os.fspath(from_path)
    to_path = os.path.dirname(from_path) if to_path is None else os.fspath(to_path)
    suffix, archive_type, compression = _detect_file_type(from_path)
    if archive_type is None:
        target = os.path.join(to_path, os.path.basename(from_path).replace(suffix, ""))
        with _COMPRESSED_FILE_OPENERS[compression](from_path, "rb") as source, \
                open(target, "wb") as destination:
            shutil.copyfileobj(source, destination)
    else:
        _ARCHIVE_EXTRACTORS[archive_type](from_path, to_path, compression)
    if remove_finished:
        os.remove(from_path)
    return to_path


def download_and_extract_archive(url, download_root, extract_root=None, filename=None, md5=None,
                                 remove_finished=False):
    download_root = os.path.expanduser(os.fspath(download_root))
    extract_root = download_root if extract_root is None else extract_root
    filename = filename or os.path.basename(url)
    download_url(url, download_root, filename, md5)
    archive = os.path.join(download_root, filename)
    print(f"Extracting {archive} to {extract_root}")
    extract_archive(archive, extract_root, remove_finished)


def verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    """``value`` when it is a str among ``valid_values``; a ValueError naming the choices else."""
    if not isinstance(value, str):
        where = "" if arg is None else f" for argument {arg}"
        raise ValueError(f"Expected type str{where}, but got type {type(value)}.")
    if valid_values is None or value in valid_values:
        return value
    if custom_msg is not None:
        raise ValueError(custom_msg)
    choices = "'" + "', '".join(str(item) for item in valid_values) + "'"
    raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are "
                     f"{{{choices}}}.")
