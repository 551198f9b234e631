"""The notebook-style baseline of `npm run bench`: what users run today instead of dicomflow.

The seed notebook's pipeline (LIDC-IDRI: extract, validate with pydicom, extract metadata, organize into
PatientID/StudyInstanceUID/SeriesInstanceUID folders, chart, load SQLite), written plainly as one sequential
script with the same libraries: pydicom, pandas, matplotlib, sqlite3. Run with Debian's python3 and its
python3-pydicom, python3-pandas and python3-matplotlib packages:

    /usr/bin/python3 bench/notebook.py DATASET.zip OUT_DIR

It prints one line of facts for the benchmark (rows loaded, seconds per step). The download step of the notebook
is left out: both sides of the benchmark start from a local zip.
"""
import logging
import os
import shutil
import sqlite3
import sys
import time
import zipfile

import matplotlib

matplotlib.use("Agg")  # no display; the notebook draws inline, here the figures go to PNG files
import matplotlib.pyplot as plt
import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

zip_path, out = sys.argv[1], sys.argv[2]
extracted = os.path.join(out, "lidc_extracted")
organized = os.path.join(out, "organized")
logs = os.path.join(out, "logs")
os.makedirs(logs, exist_ok=True)
logging.basicConfig(filename=os.path.join(logs, "validation.log"), level=logging.INFO,
                    format="%(asctime)s %(levelname)s %(message)s")
steps = {}
t0 = time.perf_counter()
mark = t0


def step(name):
    global mark
    now = time.perf_counter()
    steps[name] = now - mark
    mark = now


# 2. Extraction: the whole zip to disk, then list what it held.
with zipfile.ZipFile(zip_path) as z:
    z.extractall(extracted)
all_files = sorted(os.path.join(d, f) for d, _, names in os.walk(extracted) for f in names)
dcm_files = [f for f in all_files if f.lower().endswith(".dcm")]
logging.info("extracted %d files, %d .dcm", len(all_files), len(dcm_files))
step("unzip")

# 3-5. Validation, metadata extraction and organization: one pydicom read of each .dcm file (the notebook reads
# each file once to validate and again for its metadata; once is kept here), then a copy into its series folder.
REQUIRED = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


def number(ds, keyword, kind):
    value = ds.get(keyword)
    return kind(value) if value not in (None, "") else None


validation, rows = [], []
for path in dcm_files:
    try:
        ds = pydicom.dcmread(path)
        missing = [k for k in REQUIRED if not ds.get(k)]
        if missing:
            raise ValueError("missing " + ", ".join(missing))
    except (InvalidDicomError, ValueError, OSError, EOFError) as e:
        logging.warning("invalid DICOM %s: %s", path, e)
        validation.append({"path": path, "status": "invalid", "error": str(e)})
        continue
    validation.append({"path": path, "status": "valid", "error": ""})
    spacing = ds.get("PixelSpacing")
    row = {
        "PatientID": str(ds.get("PatientID", "")),
        "StudyInstanceUID": str(ds.StudyInstanceUID),
        "SeriesInstanceUID": str(ds.SeriesInstanceUID),
        "SOPInstanceUID": str(ds.SOPInstanceUID),
        "Modality": str(ds.get("Modality", "")),
        "SliceThickness": number(ds, "SliceThickness", float),
        "PixelSpacingRow": float(spacing[0]) if spacing else None,
        "PixelSpacingCol": float(spacing[1]) if spacing else None,
        "StudyDate": str(ds.get("StudyDate", "")),
        "AcquisitionDate": str(ds.get("AcquisitionDate", "")),
        "InstanceNumber": number(ds, "InstanceNumber", int),
    }
    folder = os.path.join(organized, row["PatientID"] or "unknown", row["StudyInstanceUID"], row["SeriesInstanceUID"])
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, row["SOPInstanceUID"] + ".dcm")
    if not os.path.exists(target):  # the same instance twice is copied once
        shutil.copy2(path, target)
    row["FilePath"] = target
    rows.append(row)
step("read, validate, copy")

df = pd.DataFrame(rows).drop_duplicates("SOPInstanceUID")
df["SlicesInSeries"] = df.groupby("SeriesInstanceUID")["SOPInstanceUID"].transform("count")
pd.DataFrame(validation).to_csv(os.path.join(logs, "dicom_validation_report.csv"), index=False)
metadata_csv = os.path.join(out, "metadata_extracted.csv")
df.to_csv(metadata_csv, index=False)
step("table and CSVs")

# 6. Visualization and summary statistics.
fig, ax = plt.subplots(figsize=(8, 5))
df["SliceThickness"].dropna().plot.hist(ax=ax, bins=20)
ax.set(title="Slice thickness", xlabel="mm", ylabel="instances")
fig.savefig(os.path.join(out, "slice_thickness.png"), dpi=100)
plt.close(fig)
per_series = df.groupby("SeriesInstanceUID").size().sort_values()
shown = per_series.tail(50)  # the 50 largest series, as dicomflow's chart shows
fig, ax = plt.subplots(figsize=(9, max(4, 0.25 * len(shown))))
shown.plot.barh(ax=ax)
ax.set(title=f"Slices per series ({len(shown)} of {len(per_series)})", xlabel="slices", ylabel="")
fig.tight_layout()
fig.savefig(os.path.join(out, "slices_per_series.png"), dpi=100)
plt.close(fig)
studies = df["StudyInstanceUID"].nunique()
summary = f"studies {studies}, series {len(per_series)}, slices {len(df)}, slices per study {len(df) / max(studies, 1):.1f}"
logging.info(summary)
step("charts")

# 7. Database loading: the table with its columns, loaded from the CSV, then the notebook's checks.
con = sqlite3.connect(os.path.join(out, "mydatabase.db"))
con.execute("""CREATE TABLE IF NOT EXISTS dicom_metadata (
    PatientID TEXT, StudyInstanceUID TEXT, SeriesInstanceUID TEXT, SOPInstanceUID TEXT PRIMARY KEY, Modality TEXT,
    SliceThickness REAL, PixelSpacingRow REAL, PixelSpacingCol REAL, StudyDate TEXT, AcquisitionDate TEXT,
    InstanceNumber INTEGER, FilePath TEXT, SlicesInSeries INTEGER)""")
pd.read_csv(metadata_csv, dtype={"PatientID": str, "StudyDate": str, "AcquisitionDate": str}).to_sql(
    "dicom_metadata", con, if_exists="append", index=False)
con.commit()
columns = [r[1] for r in con.execute("PRAGMA table_info(dicom_metadata)")]
assert columns == list(df.columns), f"table columns {columns} differ from the metadata {list(df.columns)}"
count = con.execute("SELECT COUNT(*) FROM dicom_metadata").fetchone()[0]
patients = con.execute("SELECT COUNT(DISTINCT PatientID) FROM dicom_metadata").fetchone()[0]
nulls = {c: con.execute(f'SELECT COUNT(*) FROM dicom_metadata WHERE "{c}" IS NULL').fetchone()[0] for c in columns}
con.close()
step("sqlite")

print(f"notebook: rows {count}, patients {patients}, {summary}, nulls {sum(nulls.values())}; "
      + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()) + f"; total {time.perf_counter() - t0:.2f} s")
