"""Every name in a run directory, defined here once; everything else imports it from here.

    .charkeras-run    MARKER_FILE       "charkeras wrote this directory", with its format version
    .charkeras-lock   LOCK_FILE         held by the process training here (`lock.RunLock`)
    config.json       CONFIG_FILE       the config that trains (`config.CharConfig`)
    vocab.json        VOCAB_FILE        the character vocabulary
    run.json          RUN_FILE          corpus source and sha256, sizes, hardware, resumes' changes
    checkpoints/      CHECKPOINTS_DIR   ckpt-000000500/ (`checkpoint_name`), best/ (BEST), and
                                        unreadable-ckpt-.../ set aside by a resume; each holds
                                        meta.json (META_FILE) and variables.npz (VARIABLES_FILE)
    log.csv           LOG_FILE          one row per finished epoch
    steps.csv         STEPS_FILE        training loss and learning rate every few steps
    validations.csv   VALIDATIONS_FILE  one row per validation
    samples.jsonl     SAMPLES_FILE      one generated sample per line
    tensorboard/      TENSORBOARD_DIR   event files under train/ and validation/
    report.html       REPORT_FILE       the training report, and its plot loss.png (PLOT_FILE)

No imports: every module of the run directory, the callbacks and the commands may use these names.
"""

MARKER_FILE = ".charkeras-run"
LOCK_FILE = ".charkeras-lock"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
RUN_FILE = "run.json"
CHECKPOINTS_DIR = "checkpoints"
BEST = "best"
CHECKPOINT_PREFIX = "ckpt-"
UNREADABLE_PREFIX = "unreadable-"
META_FILE = "meta.json"
VARIABLES_FILE = "variables.npz"
LOG_FILE = "log.csv"
STEPS_FILE = "steps.csv"
VALIDATIONS_FILE = "validations.csv"
SAMPLES_FILE = "samples.jsonl"
TENSORBOARD_DIR = "tensorboard"
TENSORBOARD_PARTS = ("train", "validation")
EVENT_FILES = "events.out.tfevents.*"  # TensorFlow's names for the event files in those
REPORT_FILE = "report.html"
PLOT_FILE = "loss.png"

# What `RunDir.prepare_new(force=True)` removes: every entry a run writes at its top level except
# the marker (rewritten) and the lock (held by the process replacing the run; deleting it races).
RUN_ENTRIES = (CONFIG_FILE, VOCAB_FILE, RUN_FILE, CHECKPOINTS_DIR, LOG_FILE, STEPS_FILE,
               VALIDATIONS_FILE, SAMPLES_FILE, TENSORBOARD_DIR, REPORT_FILE, PLOT_FILE)


def checkpoint_name(step: int) -> str:
    """The directory name of the checkpoint at `step`; names sort in step order."""
    return f"{CHECKPOINT_PREFIX}{step:09d}"
