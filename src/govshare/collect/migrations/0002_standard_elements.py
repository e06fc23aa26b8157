"""Load the standard data elements (数据元) the dictionary starts with (R-COL-02).

The list is frozen here as it was when the migration was written, so later edits to
`govshare.collect.elements.STANDARD_ELEMENTS` do not change what this migration did. Running it on a
database that already has an element of the same code or name leaves that element alone.
"""

from django.db import migrations
from django.db.models import Q

ELEMENTS = (
    {
        "code": "DE0001",
        "name": "公民身份号码",
        "synonyms": ["身份证号", "身份证号码", "身份证件号码"],
        "data_type": "C",
        "format_check": "ric",
        "description": "GB 11643 公民身份号码，18 位，末位为校验码。自然人数据的统一标识（R-COL-04）。",
    },
    {
        "code": "DE0002",
        "name": "姓名",
        "synonyms": ["人员姓名"],
        "data_type": "C",
        "format_check": "",
        "description": "自然人的姓名。",
    },
    {
        "code": "DE0003",
        "name": "性别",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "GB/T 2261.1 人的性别代码。",
    },
    {
        "code": "DE0004",
        "name": "出生日期",
        "synonyms": ["出生年月日"],
        "data_type": "D",
        "format_check": "",
        "description": "自然人的出生日期。",
    },
    {
        "code": "DE0005",
        "name": "民族",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "GB/T 3304 中国各民族名称。",
    },
    {
        "code": "DE0006",
        "name": "住址",
        "synonyms": ["户籍地址", "户籍住址"],
        "data_type": "C",
        "format_check": "",
        "description": "户籍登记的住址。",
    },
    {
        "code": "DE0007",
        "name": "手机号码",
        "synonyms": ["手机号", "移动电话", "移动电话号码"],
        "data_type": "C",
        "format_check": "mobile",
        "description": "11 位移动电话号码。固定电话另见“联系电话”。",
    },
    {
        "code": "DE0008",
        "name": "联系电话",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "固定电话或其他联系电话，不作格式校验。",
    },
    {
        "code": "DE0009",
        "name": "统一社会信用代码",
        "synonyms": ["社会信用代码"],
        "data_type": "C",
        "format_check": "uscc",
        "description": "GB 32100 法人和其他组织统一社会信用代码，18 位。法人数据的统一标识（R-COL-04）。",
    },
    {
        "code": "DE0010",
        "name": "企业名称",
        "synonyms": ["单位名称", "机构名称", "市场主体名称"],
        "data_type": "C",
        "format_check": "",
        "description": "法人和其他组织的登记名称。",
    },
    {
        "code": "DE0011",
        "name": "法定代表人",
        "synonyms": ["法定代表人姓名", "法人代表"],
        "data_type": "C",
        "format_check": "",
        "description": "法人的法定代表人（负责人）姓名。",
    },
    {
        "code": "DE0012",
        "name": "行政区划代码",
        "synonyms": ["区划代码"],
        "data_type": "C",
        "format_check": "region",
        "description": "GB/T 2260 县级以上行政区划代码，6 位。",
    },
    {
        "code": "DE0013",
        "name": "成立日期",
        "synonyms": ["设立日期"],
        "data_type": "D",
        "format_check": "",
        "description": "法人和其他组织的成立（设立）日期。",
    },
    {
        "code": "DE0014",
        "name": "注册资本",
        "synonyms": [],
        "data_type": "N",
        "format_check": "",
        "description": "登记的注册资本（万元）。",
    },
    {
        "code": "DE0015",
        "name": "经营范围",
        "synonyms": [],
        "data_type": "C",
        "format_check": "",
        "description": "登记的经营范围。",
    },
)


def load(apps, schema_editor):
    DataElement = apps.get_model("collect", "DataElement")
    for spec in ELEMENTS:
        if not DataElement.objects.filter(Q(code=spec["code"]) | Q(name=spec["name"])).exists():
            DataElement.objects.create(**spec)


class Migration(migrations.Migration):
    dependencies = [("collect", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
