"""Packaged templates: the email bodies (weekly.html.j2, weekly.txt.j2) read by
aftersales_xl.reports.mail_render; record_form.xlsx is the committed blank form."""
