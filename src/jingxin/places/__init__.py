"""Evaluating places (评价地方): the composite-index engine, the counties' 制造业高质量发展 index
with 天工鼎 and its robustness analysis (docs/places.md). Park star ratings are in
:mod:`jingxin.parks`."""
