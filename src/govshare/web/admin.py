from django.contrib import admin

admin.site.site_header = "政务数据共享交换平台 · 运维管理"
admin.site.site_title = "运维管理"
admin.site.index_title = "组织机构与人员"
