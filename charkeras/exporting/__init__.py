"""Stage 5 of the data flow: a trained model -> the export contract (SavedModel signatures, TFLite,
card).

The package is `exporting`, not `export`, because `charkeras.export(run, out)` is the public
function (charkeras/__init__.py): a subpackage of the same name would replace it on import.
"""
