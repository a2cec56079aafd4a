"""The export artifact's format, shared by the stage that writes it (exporting) and the stages that
read it (runtime, inspect, the CLI): file names, version directories, card.json. No TensorFlow
here."""
