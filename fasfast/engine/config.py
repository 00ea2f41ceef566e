"""Training configuration; defined in :mod:`fasfast.train_config` (torch-free, outside this
package so that the CLI's ``--help`` does not import the engine) and re-exported here."""

from fasfast.train_config import (  # noqa: F401
    CLASSIFIER_DEFAULTS,
    DATASETS,
    EULERNET_DEFAULTS,
    SCHEDULES,
    TrainConfig,
    add_train_arguments,
    check_downsample_classes,
    config_from_args,
    parse_downsample,
)
