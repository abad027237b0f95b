"""Regenerate msd.yaml and medmnist.yaml from the tables below (facts from monai/apps/datasets.py and
medmnist/info.py). Run: python datasets/_make_registry.py ; the YAML files are committed."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).parent
S3 = "https://msd-for-monai.s3-us-west-2.amazonaws.com"
MSD_CITE = (
    "Antonelli M. et al., The Medical Segmentation Decathlon, Nature Communications 13, 4128 (2022), "
    "doi:10.1038/s41467-022-30695-9; Simpson A. L. et al., arXiv:1902.09063"
)
# task: (md5, modality, labels, description)
MSD = {
    "Task01_BrainTumour": (
        "240a19d752f0d9e9101544901065d872",
        "MR (FLAIR, T1w, T1gd, T2w)",
        ["background", "edema", "non-enhancing tumor", "enhancing tumour"],
        "484 training cases of glioma, four co-registered MR sequences (≈6-7 GB)",
    ),
    "Task02_Heart": (
        "06ee59366e1e5124267b774dbd654057",
        "MR",
        ["background", "left atrium"],
        "20 training mono-modal MR volumes of the left atrium (≈0.4 GB)",
    ),
    "Task03_Liver": (
        "a90ec6c4aa7f6a3d087205e23d4e6397",
        "CT",
        ["background", "liver", "cancer"],
        "131 training portal-venous CT volumes, liver and tumour (≈27 GB)",
    ),
    "Task04_Hippocampus": (
        "9d24dba78a72977dbd1d2e110310f31b",
        "MR",
        ["background", "Anterior", "Posterior"],
        "260 training T1 MR crops of the hippocampus (≈27 MB; the laptop pick)",
    ),
    "Task05_Prostate": (
        "35138f08b1efaef89d7424d2bcc928db",
        "MR (T2, ADC)",
        ["background", "PZ", "TZ"],
        "32 training multi-parametric MR volumes, peripheral and transition zones (≈0.2 GB)",
    ),
    "Task06_Lung": (
        "8afd997733c7fc0432f71255ba4e52dc",
        "CT",
        ["background", "cancer"],
        "63 training CT volumes of non-small-cell lung cancer (≈8.5 GB)",
    ),
    "Task07_Pancreas": (
        "4f7080cfca169fa8066d17ce6eb061e4",
        "CT",
        ["background", "pancreas", "cancer"],
        "281 training portal-venous CT volumes, pancreas and tumour (≈11 GB)",
    ),
    "Task08_HepaticVessel": (
        "641d79e80ec66453921d997fbf12a29c",
        "CT",
        ["background", "Vessel", "Tumour"],
        "303 training CT volumes, hepatic vessels and tumours (≈9 GB)",
    ),
    "Task09_Spleen": (
        "410d4a301da4e5b2f6f86ec3ddba524e",
        "CT",
        ["background", "spleen"],
        "41 training portal-venous CT volumes of the spleen (1.5 GB)",
    ),
    "Task10_Colon": (
        "bad7a188931dc2f6acf72b08eb6202d0",
        "CT",
        ["background", "colon cancer primaries"],
        "126 training CT volumes of colon cancer (≈5-6 GB)",
    ),
}

MEDMNIST_CITE = (
    "Yang J. et al., MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical "
    "image classification, Scientific Data 10, 41 (2023), doi:10.1038/s41597-022-01721-8"
)
ORGANS = [
    "bladder",
    "femur-left",
    "femur-right",
    "heart",
    "kidney-left",
    "kidney-right",
    "liver",
    "lung-left",
    "lung-right",
    "pancreas",
    "spleen",
]
# flag: (task, channels, (train, val, test), modality, labels, source citation, md5 by size)
MEDMNIST = {
    "pathmnist": (
        "multi-class",
        3,
        (89996, 10004, 7180),
        "colon pathology (H&E)",
        [
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ],
        "Kather J. N. et al., PLOS Medicine 2019 (NCT-CRC-HE-100K)",
        [
            "a8b06965200029087d5bd730944a56c1",
            "55aa9c1e0525abe5a6b9d8343a507616",
            "ac42d08fb904d92c244187169d1fd1d9",
            "2c51a510bcdc9cf8ddb2af93af1eadec",
        ],
    ),
    "chestmnist": (
        "multi-label",
        1,
        (78468, 11219, 22433),
        "chest X-ray",
        [
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
        ],
        "Wang X. et al., CVPR 2017 (NIH ChestX-ray14)",
        [
            "02c8a6516a18b556561a56cbdd36c4a8",
            "9de6cd0b934ebb5b7426cfba5efbae16",
            "db107e5590b27930b62dbaf558aebee3",
            "45bd33e6f06c3e8cdb481c74a89152aa",
        ],
    ),
    "dermamnist": (
        "multi-class",
        3,
        (7007, 1003, 2005),
        "dermatoscopy",
        [
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ],
        "Tschandl P. et al., Scientific Data 2018 (HAM10000)",
        [
            "0744692d530f8e62ec473284d019b0c7",
            "b70a2f5635c6199aeaa28c31d7202e1f",
            "2defd784463fa5243564e855ed717de1",
            "8974907d8e169bef5f5b96bc506ae45d",
        ],
    ),
    "octmnist": (
        "multi-class",
        1,
        (97477, 10832, 1000),
        "retinal OCT",
        ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
        "Kermany D. S. et al., Cell 2018",
        [
            "c68d92d5b585d8d81f7112f81e2d0842",
            "e229e9440236b774d9f0dfef9d07bdaf",
            "0a97e76651ace45c5d943ee3f65b63ae",
            "abc493b6d529d5de7569faaef2773ba3",
        ],
    ),
    "pneumoniamnist": (
        "binary",
        1,
        (4708, 524, 624),
        "chest X-ray",
        ["normal", "pneumonia"],
        "Kermany D. S. et al., Cell 2018",
        [
            "28209eda62fecd6e6a2d98b1501bb15f",
            "8f4eceb4ccffa70c672198ea285246c6",
            "05b46931834c231683c68f40c47b2971",
            "d6a3c71de1b945ea11211b03746c1fe1",
        ],
    ),
    "retinamnist": (
        "ordinal-regression",
        3,
        (1080, 120, 400),
        "fundus camera",
        ["0", "1", "2", "3", "4"],
        "Liu R. et al., Patterns 2022 (DeepDRiD)",
        [
            "bd4c0672f1bba3e3a89f0e4e876791e4",
            "afda852cc34dcda56f86ad2b2457dbcc",
            "e48e916a24454daf90583d4e6efb1a18",
            "eae7e3b6f3fcbda4ae613ebdcbe35348",
        ],
    ),
    "breastmnist": (
        "binary",
        1,
        (546, 78, 156),
        "breast ultrasound",
        ["malignant", "normal, benign"],
        "Al-Dhabyani W. et al., Data in Brief 2020",
        [
            "750601b1f35ba3300ea97c75c52ff8f6",
            "742edef2a1fd1524b2efff4bd7ba9364",
            "363e4b3f8d712e9b5de15470a2aaadf1",
            "b56378a6eefa9fed602bb16d192d4c8b",
        ],
    ),
    "bloodmnist": (
        "multi-class",
        3,
        (11959, 1712, 3421),
        "blood cell microscopy",
        [
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ],
        "Acevedo A. et al., Data in Brief 2020",
        [
            "7053d0359d879ad8a5505303e11de1dc",
            "2b94928a2ae4916078ca51e05b6b800b",
            "adace1e0ed228fccda1f39692059dd4c",
            "b718ff6835fcbdb22ba9eacccd7b2601",
        ],
    ),
    "tissuemnist": (
        "multi-class",
        1,
        (165466, 23640, 47280),
        "kidney cortex microscopy",
        [
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
        ],
        "Ljosa V. et al., Nature Methods 2012 (BBBC051)",
        [
            "ebe78ee8b05294063de985d821c1c34b",
            "123ece2eba09d0aa5d698fda57103344",
            "61b955355d7425a89687b06cca3ce0c2",
            "b077128c4a949f0a4eb01517f9037b9c",
        ],
    ),
    "organamnist": (
        "multi-class",
        1,
        (34561, 6491, 17778),
        "abdominal CT (axial)",
        ORGANS,
        "Bilic P. et al., Medical Image Analysis 2023 (LiTS); Xu X. et al., IEEE TMI 2019",
        [
            "68e3f8846a6bd62f0c9bf841c0d9eacc",
            "2dcccc29b88e6da5a01161ef20cda288",
            "eeae80d0a227a8d099027e1b3cfd3b60",
            "50747347e05c87dd3aaf92c49f9f3170",
        ],
    ),
    "organcmnist": (
        "multi-class",
        1,
        (12975, 2392, 8216),
        "abdominal CT (coronal)",
        ORGANS,
        "Bilic P. et al., Medical Image Analysis 2023 (LiTS); Xu X. et al., IEEE TMI 2019",
        [
            "b9ceb9546e10131b32923c5bbeaea2b1",
            "3ce34a8724ea6f548e6db4744d03b6a9",
            "773c1f009daa3fe5d9a2a201b2a7ed94",
            "050f5e875dc056f6768abf94ec9995d1",
        ],
    ),
    "organsmnist": (
        "multi-class",
        1,
        (13932, 2452, 8827),
        "abdominal CT (sagittal)",
        ORGANS,
        "Bilic P. et al., Medical Image Analysis 2023 (LiTS); Xu X. et al., IEEE TMI 2019",
        [
            "9ab87b696fb54e2a387ebe992d6ed5f1",
            "53a6d115339d874c25e309a994ff46d3",
            "ded0c5fa01a95dc4978b956f613e9b8e",
            "b354719e553fbbb2513d5533f52a4cb1",
        ],
    ),
    "organmnist3d": (
        "multi-class",
        1,
        (971, 161, 610),
        "abdominal CT (3D)",
        [
            "liver",
            "kidney-right",
            "kidney-left",
            "femur-right",
            "femur-left",
            "bladder",
            "heart",
            "lung-right",
            "lung-left",
            "spleen",
            "pancreas",
        ],
        "Bilic P. et al., Medical Image Analysis 2023 (LiTS); Xu X. et al., IEEE TMI 2019",
        ["a0c5a1ff56af4f155c46d46fbb45a2fe", "58a2205adf14a9d0a189cb06dc78bf10"],
    ),
    "nodulemnist3d": (
        "binary",
        1,
        (1158, 165, 310),
        "chest CT (3D)",
        ["benign", "malignant"],
        "Armato S. G. et al., Medical Physics 2011 (LIDC-IDRI)",
        ["8755a7e9e05a4d9ce80a24c3e7a256f3", "c47c5b7d457bf6332200d2ea6d64ecd8"],
    ),
    "adrenalmnist3d": (
        "binary",
        1,
        (1188, 98, 298),
        "abdominal CT shape (3D)",
        ["normal", "hyperplasia"],
        "Yang J. et al., Scientific Data 2023 (in-house, Zhongshan Hospital)",
        ["bbd3c5a5576322bc4cdfea780653b1ce", "17721accfe9fb005146a47d33bc54b2f"],
    ),
    "fracturemnist3d": (
        "multi-class",
        1,
        (1027, 103, 240),
        "chest CT (3D)",
        ["buckle rib fracture", "nondisplaced rib fracture", "displaced rib fracture"],
        "Jin L. et al., EBioMedicine 2020 (RibFrac)",
        ["6aa7b0143a6b42da40027a9dda61302f", "f01d7e6316aedf4210da0da5b7437b42"],
    ),
    "vesselmnist3d": (
        "binary",
        1,
        (1335, 191, 382),
        "brain MRA shape (3D)",
        ["vessel", "aneurysm"],
        "Yang X. et al., CVPR 2020 (IntrA)",
        ["b41fd4f7e7e2feedddb201585ecafa1b", "6bb274a8846e1097066dcd64e2c4520f"],
    ),
    "synapsemnist3d": (
        "binary",
        1,
        (1230, 177, 352),
        "electron microscopy (3D)",
        ["inhibitory synapse", "excitatory synapse"],
        "Yang J. et al., Scientific Data 2023 (MedMNIST v2)",
        ["1235b78a3cd6280881dd7850a78eadb6", "43bd14ebf3af9d3dd072446fedc14d5e"],
    ),
}


def msd_entries() -> list[dict]:
    out = []
    for task, (md5, modality, labels, desc) in MSD.items():
        num, organ = task.split("_", 1)
        out.append(
            {
                "name": f"msd-{organ.lower()}",
                "title": f"Medical Segmentation Decathlon {task}",
                "source": "remote",
                "modality": modality,
                "task": "segmentation",
                "dims": 3,
                "labels": labels,
                "splits": {"train": 0.8, "val": 0.2, "test": "imagesTs (unlabelled)"},
                "files": [
                    {"filename": f"{task}.tar", "urls": [f"{S3}/{task}.tar"], "md5": md5, "extract": True}
                ],
                "license": "CC BY-SA 4.0",
                "citation": MSD_CITE,
                "homepage": "http://medicaldecathlon.com/",
                "loader": "msd",
                "options": {"task": task},
                "description": desc,
                "tags": ["msd", num.lower()],
            }
        )
    return out


def medmnist_entries() -> list[dict]:
    out = []
    for flag, (task, ch, (ntr, nva, nte), modality, labels, src, md5s) in MEDMNIST.items():
        is3d = flag.endswith("3d")
        for size, md5 in zip((28, 64) if is3d else (28, 64, 128, 224), md5s):
            suffix = "" if size == 28 else f"_{size}"
            out.append(
                {
                    "name": flag if size == 28 else f"{flag}-{size}",
                    "title": f"MedMNIST v3 {flag} at {size}{'³' if is3d else '×' + str(size)}",
                    "source": "remote",
                    "modality": modality,
                    "task": task,
                    "dims": 3 if is3d else 2,
                    "labels": labels,
                    "splits": {"train": ntr, "val": nva, "test": nte},
                    "files": [
                        {
                            "filename": f"{flag}{suffix}.npz",
                            "urls": [
                                f"https://zenodo.org/records/10519652/files/{flag}{suffix}.npz?download=1"
                            ],
                            "md5": md5,
                        }
                    ],
                    "license": "CC BY-NC 4.0" if flag == "dermamnist" else "CC BY 4.0",
                    "citation": f"{MEDMNIST_CITE}; source: {src}",
                    "homepage": "https://medmnist.com/",
                    "loader": "medmnist",
                    "options": {"flag": flag, "size": size, "channels": ch},
                    "tags": ["medmnist", flag],
                }
            )
    return out


def write(path: Path, header: str, entries: list[dict]) -> None:
    text = yaml.safe_dump({"datasets": entries}, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    write(
        HERE / "msd.yaml",
        "# Medical Segmentation Decathlon, ten tasks (generated by _make_registry.py)\n",
        msd_entries(),
    )
    write(
        HERE / "medmnist.yaml",
        "# MedMNIST v3: 12 2D flags at 28/64/128/224 and 6 3D flags at 28/64 "
        "(generated by _make_registry.py)\n",
        medmnist_entries(),
    )
