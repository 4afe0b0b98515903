"""The project's own detector architecture: the small Mask R-CNN of the built-in demo (rcnn.train_shapes).

A torchvision MaskRCNN from public pieces, trimmed so the FP32 and int8 ONNX files fit in 30 MB together:
ResNet-18 without layer4 (strides 4, 8, 16; layer4 alone is 8.4 M of ResNet-18's 11.7 M parameters), a 128-channel
FPN with a max-pooled stride-32 level, anchors 16..128 px (the shapes are 20..80 px), a 256-d box MLP and a
two-conv mask head. BatchNorm2d (not torchvision's FrozenBatchNorm2d default, which would mean no normalisation at
all when training from scratch); it is folded into the convolutions at export.
"""

from __future__ import annotations

from typing import Any

ARCH = "shapes_resnet18_fpn"
INPUT_SIZE = 256


def shapes_maskrcnn(num_classes: int = 4, **overrides: Any) -> Any:
    """The demo Mask R-CNN (random init). `overrides` go to torchvision's MaskRCNN (e.g. box_score_thresh)."""
    from torch import nn
    from torchvision.models import resnet18
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    channels = 128
    backbone = BackboneWithFPN(resnet18(weights=None, norm_layer=nn.BatchNorm2d),
                               return_layers={"layer1": "0", "layer2": "1", "layer3": "2"},
                               in_channels_list=[64, 128, 256], out_channels=channels,
                               extra_blocks=LastLevelMaxPool())
    levels = ["0", "1", "2"]
    options: dict[str, Any] = dict(
        min_size=INPUT_SIZE, max_size=INPUT_SIZE,
        rpn_anchor_generator=AnchorGenerator(sizes=((16,), (32,), (64,), (128,)), aspect_ratios=((0.5, 1.0, 2.0),) * 4),
        box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(channels * 7 * 7, 256), box_predictor=FastRCNNPredictor(256, num_classes),
        mask_roi_pool=MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(channels, [channels, channels], 1),
        mask_predictor=MaskRCNNPredictor(channels, channels, num_classes),
        rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=500, rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=300, box_batch_size_per_image=64, box_detections_per_img=20)
    options.update(overrides)
    return MaskRCNN(backbone, num_classes=None, **options)
