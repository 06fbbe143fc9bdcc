"""The paper suites: each reproduces one paper's tables with today's tools.

Every suite names its datasets, backbones (with the taps to read) and strategies, and says
in ``description`` which protocol options it uses and in ``reproduces`` which published
table (``leaderboard/`` reference rows, from ``shared/reference/published.csv``) it is
shown with. ``benchbase run --suite NAME --data-root DIR --dry-run`` lists the grid and the
datasets whose files are missing. Copy a suite to a TOML file to change a grid or a
parameter (e.g. ``[params.layer-probe] classifier = "softmax"``).

Stand-ins: OverFeat (Razavian) and the Krizhevsky / Zeiler-Fergus networks are replaced by
torchvision's AlexNet (``fc6`` = the first fully-connected layer after its ReLU, DeCAF6;
``fc7`` = DeCAF7; ``pool5`` = the flattened last pooling map) and VGG-16; modern rows use
timm's ResNet-50 and EfficientNet-Lite0 on their pooled pre-logits features. The ResNet-50
is the classic softmax cross-entropy one (timm's ``resnet50.tv_in1k``, torchvision's original
weights), as in the Kornblith et al. / SimCLR reference rows; plain ``timm/resnet50`` would
be timm's default ``a1_in1k`` (a BCE-trained recipe), a different network to transfer from.

``reproduces`` names the published papers (as ``published.csv`` names them, e.g.
"Razavian et al. 2014") whose rows the suite's pages show; a copy (``benchbase suites show
NAME``, or ``extends = "NAME"``) keeps it. ``tables`` lists the table shapes its pages render
(the paper's, plus the cross-dataset summary) and ``published_tables`` the published tables
printed as a grid or a per-layer table rather than a method table.
"""

from __future__ import annotations

from benchbase import Suite, hookimpl

ALEXNET = "torchvision/alexnet"
VGG16 = "torchvision/vgg16"
RESNET50 = "timm/resnet50.tv_in1k"
LITE0 = "timm/tf_efficientnet_lite0"

RAZAVIAN = Suite(
    name="razavian",
    datasets=["voc2007", "mit67", "cub200", "caltech101"],
    backbones=[ALEXNET, VGG16, RESNET50, LITE0],
    strategies=["linear-svm", "linear-svm-aug"],
    layers={ALEXNET: ["fc6"], VGG16: ["fc6"], RESNET50: ["pool"], LITE0: ["pool"]},
    options={"cub200": {"box_crop": True}},
    # Razavian §3.1: one-vs-all where labels are not exclusive (VOC), one-vs-one linear SVMs
    # with voting elsewhere; multilabel datasets always get one SVM per class
    params={"linear-svm": {"multiclass": "ovo"}, "linear-svm-aug": {"multiclass": "ovo"}},
    resize="squash",
    description="Razavian et al. 2014, CNN features off-the-shelf: one layer's frozen "
    "features (AlexNet/VGG-16 fc6 as the OverFeat first FC layer; ResNet-50 and "
    "EfficientNet-Lite0 pooled features as modern rows) of the whole image resized to the "
    "network's input (resize=squash, §3.1), L2-normalised, linear SVM with C chosen on a "
    "validation split of the training set: one-vs-all on VOC, one-vs-one with voting on the "
    "multi-class sets (CNN-SVM); and the same with the training set augmented by 16 views "
    "(original, 5 crops of 4/9 of the area, 2 rotations, all mirrored) and a signed power "
    "transform with exponent 2 (§3.6), test images scored once on the original view "
    "(CNNaug-SVM; test-time averaging over views is the opt-in linear-svm-aug-tta row). "
    "Protocols: VOC 2007 trainval→test with 11-point AP; MIT-67 "
    "TrainImages→TestImages; CUB-200-2011 official split on ground-truth box crops "
    "(box_crop=true); Caltech-101 30 training images per class, 5 splits.",
    reproduces="Razavian et al. 2014 Table 1 (VOC 2007 per-class AP, CNN-SVM and "
    "CNNaug-SVM rows; Oquab et al. cited in its caption), Table 2 (MIT-67) and Table 3 "
    "(CUB-200-2011)",
    tables=["voc", "accuracy", "summary"],
)

DECAF = Suite(
    name="decaf",
    datasets=["caltech101", "sun397", "cub200"],
    backbones=[ALEXNET],
    strategies=["logreg", "logreg-dropout", "linear-svm", "svm-dropout"],
    layers={ALEXNET: ["pool5", "fc6", "fc7"]},
    options={"cub200": {"box_crop": True}},
    resize="squash-crop",
    # the paper never combined dropout with DeCAF5
    skip_layers={"logreg-dropout": ["pool5"], "svm-dropout": ["pool5"]},
    labels={
        "pool5": "DeCAF5",
        "fc6": "DeCAF6",
        "fc7": "DeCAF7",
        "logreg": "LogReg",
        "logreg-dropout": "LogReg with Dropout",
        "linear-svm": "SVM",
        "svm-dropout": "SVM with Dropout",
    },
    description="Donahue et al. 2014 (DeCAF): AlexNet's pool5 / fc6 / fc7 (DeCAF5/6/7) "
    "frozen features of the image warped to 256 × 256 and centre-cropped (resize="
    "squash-crop) × logistic regression and linear SVM, with and without dropout on fc6 / "
    "fc7 (masks redrawn for every copy of the training set; no dropout on pool5, as in the "
    "paper), regularisation chosen on validation. Protocols: Caltech-101 30 train per class over 5 random splits; SUN-397 "
    "the official 50/50 partitions; CUB-200-2011 official split on ground-truth box crops.",
    reproduces="Donahue et al. 2014 (DeCAF): Caltech-101 table (LogReg, LogReg with Dropout, SVM, SVM with Dropout "
    "on DeCAF5/6/7), Table 2 (CUB-200 DeCAF6) and Table 3 (SUN-397 LogReg/SVM)",
    tables=["accuracy", "grid", "summary"],
    # classifier × DeCAF5/6/7: the labels above put our layers under the published columns
    published_tables={"Caltech-101 table": "grid", "Table 3": "grid"},
)

OQUAB = Suite(
    name="oquab",
    datasets=["voc2007", "voc2012"],
    backbones=[ALEXNET, f"{ALEXNET}:random"],
    strategies=["adaptation-patches"],
    layers={ALEXNET: ["fc7"], f"{ALEXNET}:random": ["fc7"]},
    labels={
        ALEXNET: "PRE-1000C",
        f"{ALEXNET}:random": "NO PRETRAIN",
        "adaptation-patches": "box-labelled patches",
    },
    description="Oquab et al. 2014, trained as the paper did on ~500 square patches per "
    "image (9 scales, regular grid, ≥ 50 % overlap) labelled from the ground-truth boxes "
    "(a patch takes a class when it and the box cover each other enough, 0.2 and 0.6; "
    "background when it overlaps no object, 10 % of those kept) and scored at test time by "
    "the mean over the image's patches of softmax^5 (adaptation-patches). PRE-1000C: "
    "ImageNet-pretrained AlexNet frozen up to fc7, the two adaptation layers FCa (2048) → "
    "FCb (20 classes + background) trained on the patch features. NO PRETRAIN: the same "
    "architecture from random initialisation, every layer trained on the same patches at "
    "the full learning rate. What still differs from the paper: torchvision's AlexNet "
    "(ImageNet-1k weights, no LRN) stands in for Krizhevsky's network; the published VOC "
    "2012 rows are test-server results on trainval→test, ours are train→val (test labels "
    "are withheld), so they are not directly comparable; VOC 2007 trainval→test with "
    "11-point AP; the head is trained with AdamW and its epochs chosen by early stopping "
    "on held-out training images.",
    reproduces="Oquab et al. 2014 VOC'12 table (NO PRETRAIN, PRE-1000C) and the VOC 2007 "
    "mAP cited by Razavian et al.",
    tables=["voc", "summary"],
)

FINETUNE = Suite(
    name="finetune",
    datasets=["caltech101", "mit67", "cub200", "voc2007"],
    backbones=[RESNET50, LITE0],
    strategies=["logreg", "adaptation", "finetune"],
    layers={RESNET50: ["pool"], LITE0: ["pool"]},
    description="The lecture's fine-tuning recipe, step by step: a linear head on frozen "
    "features (logreg), + two trained fully-connected layers (adaptation), fine-tune more "
    "(finetune: new head at lr; '1/10 of the lr on the top layers' read as the two "
    "pretrained blocks right below the head (ResNet-50 layer3/layer4) at lr/10, "
    "'1/100 on intermediate ones' as every block beneath them, stem included, at lr/100, "
    "none frozen; SGD with momentum, cosine schedule, random-resized-crop + flip, the number "
    "of epochs chosen on a validation split, then a refit on the whole training set). "
    "Dataset protocols are the datasets' defaults.",
    reproduces="Chen et al. 2020 (SimCLR) Table B.5: the Kornblith et al. 2019 protocol rows "
    "(supervised ResNet-50: linear vs fine-tuned vs random init) where datasets overlap, and "
    "Simonyan & Zisserman 2015 (VGG) transfer results",
    tables=["voc", "accuracy", "summary"],
)

#: Zeiler & Fergus's layers 1..7 on torchvision's AlexNet: conv1..conv4 (spatial maps,
#: max-pooled to 6×6), pool5 (layer 5's pooled map), fc6, fc7; conv5 (the unpooled layer 5)
#: is left out, pool5 being the paper's layer 5. ResNet-50's stages are the modern rows.
ZF_LAYERS = ["conv1", "conv2", "conv3", "conv4", "pool5", "fc6", "fc7"]
#: timm's ResNet-50 taps: stage1 is the stem's output, stage2..stage5 its four stages
RESNET_STAGES = ["stage1", "stage2", "stage3", "stage4", "stage5", "pool"]

ZEILER_FERGUS = Suite(
    name="zeiler-fergus",
    datasets=["caltech101", "caltech256"],
    backbones=[ALEXNET, RESNET50],
    strategies=["layer-probe", "logreg"],
    layers={ALEXNET: ["pool5", "fc7"], RESNET50: ["stage4", "pool"]},
    params={"layer-probe": {"layers": ZF_LAYERS + RESNET_STAGES}},
    options={"caltech101": {"train_per_class": 30}, "caltech256": {"train_per_class": 60}},
    # rows read "<classifier> (<layer>)": SVM (1) … SVM (7), Softmax (5), Softmax (7)
    labels={
        **{layer: str(i + 1) for i, layer in enumerate(ZF_LAYERS)},
        "layer-probe": "SVM",
        "logreg": "Softmax",
    },
    description="Zeiler & Fergus 2014, Table 7: a linear SVM on each of layers 1-7 "
    "(layer-probe; rows SVM (1)…SVM (7)) and softmax (logreg) on layers 5 and 7 (Softmax "
    "(5) reads pool5, Softmax (7) fc7), C chosen per layer on validation. Caltech-101 with "
    "30 and Caltech-256 with 60 training images per class, random splits. torchvision's "
    "AlexNet stands in for the ZF network (same depth, layer 1 with 11×11 stride-4 filters "
    "instead of ZF's 7×7 stride 2), and ResNet-50 (stem, 4 stages, pool) gives modern rows. Each "
    "conv layer keeps its spatial layout as the paper's classifier saw it: the layer's "
    "(pooled) map, max-pooled to a 6×6 grid and flattened (2,304 to 13,824 dims) where the "
    "paper used the whole map; ResNet-50's stages are global-average-pooled.",
    reproduces="Zeiler & Fergus 2014 Table 7 (SVM (1)…(7), Softmax (5), (7)); Tables 4/5 "
    "(ImageNet-pretrained vs non-pretrained convnet) as reference rows",
    tables=["voc", "accuracy", "layers", "summary"],
    published_tables={"Table 7": "layers"},
)


def yosinski_suite(
    name: str, dataset: str, options: dict, description: str, reproduces: str
) -> Suite:
    """A Yosinski et al. grid: AlexNet trained from scratch on class halves of ``dataset``,
    transfer-n's AnB, AnB+, BnB, BnB+ for n = 1..7 and baseB."""
    return Suite(
        name=name,
        datasets=[dataset],
        backbones=[f"{ALEXNET}:random"],  # base networks are trained from scratch on A and B
        strategies=["transfer-n"],
        options={dataset: options},
        params={"transfer-n": {"n": [1, 2, 3, 4, 5, 6, 7], "mode": "both", "selffer": True}},
        description=description,
        reproduces=reproduces,
        tables=["transfer"],
    )


YOSINSKI = yosinski_suite(
    "yosinski",
    "caltech256",
    # clutter out: the halves split the 256 object classes (128 / 128)
    {"halves_seed": 0, "train_per_class": 60, "clutter": False},
    "Yosinski et al. 2014, How transferable are features in deep neural networks?: "
    "Caltech-256's 256 object classes split into two seeded random halves A and B "
    "(halves_seed = 0, drawn as the authors drew ImageNet's), an AlexNet trained from "
    "scratch on each (base A, base B: AlexNet's layers 1..7 = conv1..conv5, fc6, fc7), then"
    " for n = 1..7 the first n layers copied from base A (AnB: transfer) or base B (BnB: "
    "the selffer control), the rest re-initialised and trained on B with the copied layers "
    "frozen or fine-tuned (AnB+, BnB+); baseB is base B itself. Rows A<n>B, A<n>B+, B<n>B, "
    "B<n>B+, baseB; `benchbase plot transfer` draws Figure 2. Caltech-256 halves (60 "
    "training images per class, 3 random splits) are a proxy for the paper's ImageNet "
    "halves (500 classes, ~645k images each), which the yosinski-imagenet suite runs where "
    "ILSVRC-2012 is on disk; training is the finetune loop (cosine schedule, augmentation, "
    "early stopping), not Caffe's 450k-iteration recipe.",
    "Yosinski et al. 2014 Figure 2 (baseB, BnB, BnB+, AnB, AnB+ over n); no "
    "numeric table is published, so no reference rows",
)

YOSINSKI_IMAGENET = yosinski_suite(
    "yosinski-imagenet",
    "imagenet",
    {"halves_seed": 0},
    "Yosinski et al. 2014 on the original data: ILSVRC-2012 train/val from a "
    "local copy, its 1000 classes split into the authors' random halves (halves_seed = N "
    "draws their half<N>A / half<N>B, N = 0..3) or, with [options.imagenet] halves = "
    '"natman", their natural (449 classes, A) / man-made (551, B) split; base networks '
    "trained from scratch on A and B, then AnB, AnB+, BnB, BnB+ for n = 1..7 and baseB, as "
    "in the yosinski suite. Tested on ILSVRC-2012 layouts in miniature only: a full run "
    "trains 30 AlexNets on ~645k images each (a GPU-cluster job).",
    "Yosinski et al. 2014 Figure 2 (random A/B halves) and Section 4.2 (natural / "
    'man-made halves, with halves = "natman"); no numeric table is published',
)

PAPER_SUITES = (
    RAZAVIAN,
    DECAF,
    OQUAB,
    FINETUNE,
    ZEILER_FERGUS,
    YOSINSKI,
    YOSINSKI_IMAGENET,
)


@hookimpl
def register_suites(register):  # noqa: ANN001, ANN201
    for suite in PAPER_SUITES:
        register(suite)
