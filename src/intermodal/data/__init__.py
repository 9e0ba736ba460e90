"""Multimodal data: the data set model and its schema, splits, standardization, the
preprocessing a saved model carries, readers and bundled data sets."""

from intermodal.data.av_digits import load_av_digits
from intermodal.data.dataset import (
    KINDS,
    Batch,
    MultimodalDataset,
    Sample,
    collate,
)
from intermodal.data.mat import read_mat
from intermodal.data.mfeat import MFEAT_VIEWS, load_mfeat
from intermodal.data.preprocessing import Preprocessor, Schema, SchemaError
from intermodal.data.readers import (
    from_arrays,
    from_csv,
    from_dataframe,
    from_parquet,
    read_affect_pickle,
    read_avmnist,
    read_image_folder,
    read_mimic,
    read_path,
    read_sentiment_utterances,
)
from intermodal.data.registry import (
    DATASETS,
    DatasetInfo,
    list_datasets,
    load_dataset,
    register_dataset,
)
from intermodal.data.splits import (
    DataSplits,
    Standardizer,
    holdout_split,
    split_dataset,
    standardize,
    stratified_split,
    training_split,
)
from intermodal.data.synthetic import (
    INTERACTIONS,
    MULTILABEL_INTERACTIONS,
    REGRESSION_INTERACTIONS,
    make_interaction_dataset,
)

__all__ = [
    "DATASETS",
    "INTERACTIONS",
    "KINDS",
    "MFEAT_VIEWS",
    "MULTILABEL_INTERACTIONS",
    "REGRESSION_INTERACTIONS",
    "Batch",
    "DataSplits",
    "DatasetInfo",
    "MultimodalDataset",
    "Preprocessor",
    "Sample",
    "Schema",
    "SchemaError",
    "Standardizer",
    "collate",
    "from_arrays",
    "from_csv",
    "from_dataframe",
    "from_parquet",
    "holdout_split",
    "list_datasets",
    "load_av_digits",
    "load_dataset",
    "load_mfeat",
    "make_interaction_dataset",
    "read_affect_pickle",
    "read_avmnist",
    "read_image_folder",
    "read_mat",
    "read_mimic",
    "read_path",
    "read_sentiment_utterances",
    "register_dataset",
    "split_dataset",
    "standardize",
    "stratified_split",
    "training_split",
]
