"""Serviceability CSV imports (all or nothing, exact errors) and merchant pincode blocks."""

import io

import pytest
from django.core.exceptions import ValidationError

from shipping.models import BlockedPincode, ServiceablePincode
from shipping.services.couriers import courier_create, pincode_block, serviceability_import

FLAGS = ("pickup", "delivery", "cod", "reverse", "oda")


@pytest.fixture
def courier(merchant):
    return courier_create(merchant=merchant, data={"code": "delhivery-surface", "name": "Delhivery Surface"})


@pytest.fixture
def other_courier(merchant):
    return courier_create(merchant=merchant, data={"code": "bluedart-air", "name": "Blue Dart Air", "mode": "air"})


def load(courier, text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return serviceability_import(courier=courier, fileobj=io.BytesIO(data), **kwargs)


def stored(courier) -> dict[str, tuple[bool, ...]]:
    rows = ServiceablePincode.objects.filter(courier=courier).values_list("pincode", *FLAGS)
    return {pincode: tuple(flags) for pincode, *flags in rows}


def test_flags_read_y_n_true_false_1_0_in_any_case(courier):
    result = load(courier, "pincode,pickup,delivery,cod,reverse,oda\n"
                           "560001,Y,N,true,false,1\n"
                           "400050,n,y,FALSE,TRUE,0\n"
                           "110001,yes,no,T,f,1\n")  # fmt: skip

    assert (result.rows, result.imported, result.errors) == (3, 3, [])
    assert stored(courier) == {
        "560001": (True, False, True, False, True),
        "400050": (False, True, False, True, False),
        "110001": (True, False, True, False, True),
    }
    assert set(ServiceablePincode.objects.values_list("merchant_id", flat=True)) == {courier.merchant_id}


def test_missing_columns_take_their_defaults(courier):
    # pickup, delivery and cod default to Y; reverse and oda to N
    result = load(courier, "pincode,cod\n560001,N\n400050,Y\n")

    assert (result.rows, result.imported) == (2, 2)
    assert stored(courier) == {"560001": (True, True, False, False, False), "400050": (True, True, True, False, False)}


def test_a_pincode_only_file_serves_everything_but_reverse_and_oda(courier):
    load(courier, "pincode\n560001\n")

    assert stored(courier) == {"560001": (True, True, True, False, False)}


def test_a_blank_cell_takes_the_columns_default(courier):
    # A blank pickup or cod cell means the default Y, as a missing column does.
    load(courier, "pincode,pickup,cod,oda\n560001,,,\n")

    assert stored(courier) == {"560001": (True, True, True, False, False)}


def test_bom_crlf_spaces_and_header_case_are_accepted(courier):
    data = b"\xef\xbb\xbfPincode , COD,Reverse\r\n 560001 , n ,Y\r\n\r\n400050,y,n\r\n"

    result = load(courier, data)

    assert (result.rows, result.imported, result.errors) == (2, 2, [])  # the blank line is not a row
    assert stored(courier) == {"560001": (True, True, False, True, False), "400050": (True, True, True, False, False)}


def test_replace_swaps_the_whole_list_of_that_courier_only(courier, other_courier):
    load(courier, "pincode\n560001\n400050\n")
    load(other_courier, "pincode\n110001\n")

    result = load(courier, "pincode,cod\n700016,N\n", replace=True)

    assert result.imported == 1
    assert stored(courier) == {"700016": (True, True, False, False, False)}
    assert stored(other_courier) == {"110001": (True, True, True, False, False)}


def test_without_replace_rows_are_added_or_updated(courier):
    load(courier, "pincode,cod\n560001,Y\n400050,Y\n")

    result = load(courier, "pincode,cod\n400050,N\n700016,Y\n", replace=False)

    assert result.imported == 2
    assert stored(courier) == {
        "560001": (True, True, True, False, False),  # kept
        "400050": (True, True, False, False, False),  # updated
        "700016": (True, True, True, False, False),  # added
    }
    assert ServiceablePincode.objects.filter(courier=courier).count() == 3


def test_a_file_with_bad_rows_imports_nothing_and_names_each_one(courier):
    load(courier, "pincode\n110001\n")
    data = ("pincode,cod\n"
            "56001,Y\n"  # row 2: five digits
            "056001,Y\n"  # row 3: leading zero
            "56000A,Y\n"  # row 4: a letter
            "560001,Y\n"  # row 5: fine
            "560001,N\n"  # row 6: repeated
            "400050,maybe\n")  # row 7: not a flag  # fmt: skip

    result = load(courier, data)

    assert (result.rows, result.imported) == (6, 0)
    assert result.errors == [
        {"row": 2, "pincode": "56001", "message": "A pincode is 6 digits, not starting with 0."},
        {"row": 3, "pincode": "056001", "message": "A pincode is 6 digits, not starting with 0."},
        {"row": 4, "pincode": "56000A", "message": "A pincode is 6 digits, not starting with 0."},
        {"row": 6, "pincode": "560001", "message": "The pincode appears twice."},
        {"row": 7, "pincode": "400050", "message": "cod must be Y or N, not 'maybe'."},
    ]
    assert stored(courier) == {"110001": (True, True, True, False, False)}  # the previous list is untouched


def test_errors_are_capped_at_100_but_every_row_is_counted(courier):
    data = "pincode\n" + "".join(f"{n:05d}\n" for n in range(10000, 10150))  # 150 five-digit pincodes

    result = load(courier, data)

    assert (result.rows, result.imported, len(result.errors)) == (150, 0, 100)
    assert result.errors[0] == {"row": 2, "pincode": "10000", "message": "A pincode is 6 digits, not starting with 0."}
    assert result.errors[-1]["row"] == 101
    assert ServiceablePincode.objects.count() == 0


@pytest.mark.parametrize("data", [b"pin,cod\n560001,Y\n", b"", b"\n560001\n"])
def test_a_file_without_a_pincode_column_is_refused(courier, data):
    with pytest.raises(ValidationError) as refused:
        load(courier, data)

    assert refused.value.message_dict == {"file": ["The first line must name the columns, including pincode."]}


@pytest.mark.parametrize(
    "data",
    [b"pincode,cod\n560001,Y\n400050,N\xe9\n", "pincode\n560001\n".encode("utf-16"), b"\xffpincode\n560001\n"],
)
def test_a_file_that_is_not_utf8_is_refused(courier, data):
    load(courier, "pincode\n110001\n")

    with pytest.raises(ValidationError) as refused:
        load(courier, data)

    assert refused.value.message_dict == {"file": ["The file is not UTF-8 CSV."]}
    assert list(stored(courier)) == ["110001"]


@pytest.mark.parametrize("pincode", ["56001", "056001", "56000A", "5600011", "", " 560001"])
def test_pincode_block_refuses_a_malformed_pincode(merchant, pincode):
    with pytest.raises(ValidationError) as refused:
        pincode_block(merchant=merchant, pincode=pincode)

    assert refused.value.message_dict == {"pincode": ["A pincode is 6 digits, not starting with 0."]}
    assert BlockedPincode.objects.count() == 0


def test_pincode_block_refuses_a_trailing_newline(merchant):
    with pytest.raises(ValidationError):
        pincode_block(merchant=merchant, pincode="560001\n")


def test_pincode_block_upserts_the_reason(merchant, other_merchant):
    first = pincode_block(merchant=merchant, pincode="400050", reason="fraud")
    pincode_block(merchant=other_merchant, pincode="400050", reason="theirs")

    again = pincode_block(merchant=merchant, pincode="400050", reason="too many RTOs")

    assert again.pk == first.pk
    assert list(BlockedPincode.objects.filter(merchant=merchant).values_list("pincode", "reason")) == [
        ("400050", "too many RTOs")]  # fmt: skip
    assert BlockedPincode.objects.get(merchant=other_merchant).reason == "theirs"
