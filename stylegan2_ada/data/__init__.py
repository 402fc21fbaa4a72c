"""Data preparation (photos -> NVIDIA-format dataset) and the training loader.

Modules: images (robust decoding), faces (detection + landmarks), face_check (a second detector confirms
each face), align (FFHQ alignment), transforms (resize/crops), items (what sources are flattened into),
folders, zips, videos, tfrecords (+ tf_example, crc32c) and side_files (the sources), sources (dispatch),
labels (dataset.json and --labels files), dataset_writer, dataset (ImageDataset), report, prepare
(orchestration), cli (`stylegan2-ada prepare`, scripts/dataset_tool.py).
Nothing is imported here so that `prepare` does not pay for torch and the loader not for dlib.
"""
