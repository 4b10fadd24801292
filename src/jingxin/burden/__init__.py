"""Cost burden (减负降本): enterprises' cost indicators by county and industry from the
warehouse (Ibis), the relief each 亩均 policy delivered, and the evaluation of relief policies
(停止实施 / 延续期限 / 长期有效) for an official to confirm."""
