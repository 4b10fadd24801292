"""Arrears to small and medium enterprises (清欠): the ledger of amounts owed by government
bodies, public institutions and large enterprises, due dates by the 保障中小企业款项支付条例,
repayments, overdue lists, disputed debts (有分歧欠款) as workflow cases, progress by county."""
