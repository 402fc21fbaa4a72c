"""Data preparation (photos -> NVIDIA-format dataset) and the training loader.

Modules: images (robust decoding), faces (detection + landmarks), align (FFHQ alignment), transforms
(resize/crops), sources (folder, zip, video, tfrecords), dataset_writer, dataset (ImageDataset),
report, prepare (orchestration), cli (`stylegan2-ada prepare`, scripts/dataset_tool.py).
Nothing is imported here so that `prepare` does not pay for torch and the loader not for dlib.
"""
