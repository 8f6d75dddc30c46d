/* sched_query_test.c: the Query protocol's pure parts (scheduler/query/): form decoding, EC2 flattening
 * read against botocore's model (the captures of ../shared/reference/query-protocol.md §1.3), and the
 * XML written for an answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../scheduler/query/form.h"
#include "../../scheduler/query/model.h"

static struct query_model M;

static int setup(void **state)
{
        struct err err = { 0 };
        return query_model_load(query_ec2_model_json, &M, &err);
}

static int teardown(void **state)
{
        query_model_free(&M);
        return 0;
}

/* body -> the JSON request of op, compared with want (jansson's equality); left: what stays unread */
static void flat(const char *op, const char *body, const char *want, const char *left)
{
        struct err err = { 0 };
        json_t *params = NULL, *got = NULL, *w = json_loads(want, 0, NULL);
        const char *in = NULL, *out = NULL;
        assert_non_null(w);
        assert_true(query_model_op(&M, op, &in, &out));
        assert_int_equal(query_form_parse(body, strlen(body), NULL, &params, &err), 0);
        assert_int_equal(query_ec2_input(&M, in, params, &got, &err), 0);
        if (!json_equal(got, w)) {
                char *g = json_dumps(got, JSON_SORT_KEYS);
                fail_msg("%s: got %s, want %s", op, g, want);
        }
        if (left)
                assert_non_null(json_object_get(params, left));
        else
                assert_int_equal(json_object_size(params), 0);
        json_decref(params);
        json_decref(got);
        json_decref(w);
}

static void test_form(void **state)
{
        struct err err = { 0 };
        json_t *p = NULL;
        const char *b = "Action=DescribeVpcs&Version=2016-11-15&A=web+a%2Fb&B=%E2%9C%93&C=&D&Action=X";
        assert_int_equal(query_form_parse(b, strlen(b), "E=1", &p, &err), 0);
        assert_string_equal(json_string_value(json_object_get(p, "A")), "web a/b");
        assert_string_equal(json_string_value(json_object_get(p, "B")), "\xe2\x9c\x93");
        assert_string_equal(json_string_value(json_object_get(p, "C")), "");
        assert_string_equal(json_string_value(json_object_get(p, "D")), "");
        assert_string_equal(json_string_value(json_object_get(p, "Action")), "X");
        assert_string_equal(json_string_value(json_object_get(p, "E")), "1");
        json_decref(p);
        assert_true(query_form_parse("A=%zz", 5, NULL, &p, &err) < 0);
        assert_string_equal(err.code, "MalformedQueryString");
        assert_true(query_form_parse("A=%00", 5, NULL, &p, &err) < 0);
        assert_true(query_form_parse("A=%FF", 5, NULL, &p, &err) < 0);
}

static void test_ec2_flattening(void **state)
{
        flat("DescribeSubnets",
             "Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0a1b&Filter.1.Value.2=vpc-1&SubnetId.1=subnet-1&SubnetId.2=subnet-2",
             "{\"Filters\":[{\"Name\":\"vpc-id\",\"Values\":[\"vpc-0a1b\",\"vpc-1\"]}],\"SubnetIds\":[\"subnet-1\",\"subnet-2\"]}", NULL);
        flat("AuthorizeSecurityGroupIngress",
             "GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&"
             "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F16&IpPermissions.1.IpRanges.1.Description=web+a%2Fb&"
             "IpPermissions.1.Groups.1.GroupId=sg-2",
             "{\"GroupId\":\"sg-1\",\"IpPermissions\":[{\"IpProtocol\":\"tcp\",\"FromPort\":80,\"ToPort\":80,"
             "\"IpRanges\":[{\"CidrIp\":\"10.0.0.0/16\",\"Description\":\"web a/b\"}],\"UserIdGroupPairs\":[{\"GroupId\":\"sg-2\"}]}]}",
             NULL);
        flat("CreateSecurityGroup", "GroupName=web&GroupDescription=d&VpcId=vpc-1",
             "{\"GroupName\":\"web\",\"Description\":\"d\",\"VpcId\":\"vpc-1\"}", NULL);
        flat("CreateNetworkInterface", "SubnetId=subnet-1&SecurityGroupId.1=sg-1&SecurityGroupId.2=sg-2&ClientToken=x",
             "{\"SubnetId\":\"subnet-1\",\"Groups\":[\"sg-1\",\"sg-2\"],\"ClientToken\":\"x\"}", NULL);
        flat("CreateVpc", "CidrBlock=10.0.0.0%2F16&TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&"
                          "TagSpecification.1.Tag.1.Value=web&DryRun=true",
             "{\"CidrBlock\":\"10.0.0.0/16\",\"DryRun\":true,\"TagSpecifications\":[{\"ResourceType\":\"vpc\","
             "\"Tags\":[{\"Key\":\"Name\",\"Value\":\"web\"}]}]}", NULL);
        flat("ModifyVpcAttribute", "VpcId=vpc-1&EnableDnsHostnames.Value=true",
             "{\"VpcId\":\"vpc-1\",\"EnableDnsHostnames\":{\"Value\":true}}", NULL);
        /* unknown members stay in params for the caller to refuse; a gap ends a list */
        flat("DescribeVpcs", "VpcId.1=vpc-1&VpcId.3=vpc-3&Bogus=1", "{\"VpcIds\":[\"vpc-1\"]}", "Bogus");

        struct err err = { 0 };
        json_t *p = NULL, *got = NULL;
        const char *in, *out;
        assert_true(query_model_op(&M, "DescribeVpcs", &in, &out));
        assert_int_equal(query_form_parse("MaxResults=ten", 14, NULL, &p, &err), 0);
        assert_true(query_ec2_input(&M, in, p, &got, &err) < 0);
        assert_string_equal(err.code, "InvalidParameterValue");
        assert_non_null(strstr(err.msg, "MaxResults"));
        json_decref(p);
        assert_false(query_model_op(&M, "RunInstances", &in, &out));
}

static void test_ec2_output(void **state)
{
        struct err err = { 0 };
        const char *in, *out;
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
        json_t *doc = json_loads("{\"Subnets\":[{\"SubnetId\":\"subnet-1\",\"DefaultForAz\":false,\"AvailableIpAddressCount\":250,"
                                 "\"Tags\":[{\"Key\":\"Name\",\"Value\":\"a<&>b\"}],\"ebxSecret\":\"x\"}],\"Other\":1}", 0, NULL);
        assert_true(query_model_op(&M, "DescribeSubnets", &in, &out));
        xmlTextWriterStartElement(w, BAD_CAST "R");
        assert_int_equal(query_ec2_output(&M, out, doc, w, &err), 0);
        xmlTextWriterEndElement(w);
        xmlTextWriterEndDocument(w);
        xmlFreeTextWriter(w);
        assert_string_equal((const char *) xmlBufferContent(buf),
                            "<R><subnetSet><item><availableIpAddressCount>250</availableIpAddressCount><defaultForAz>false</defaultForAz>"
                            "<subnetId>subnet-1</subnetId><tagSet><item><key>Name</key><value>a&lt;&amp;&gt;b</value></item></tagSet>"
                            "</item></subnetSet></R>\n");
        xmlBufferFree(buf);
        json_decref(doc);
        /* no output shape: <return>true</return> */
        buf = xmlBufferCreate();
        w = xmlNewTextWriterMemory(buf, 0);
        assert_true(query_model_op(&M, "DeleteVpc", &in, &out));
        assert_null(out);
        assert_int_equal(query_ec2_output(&M, out, NULL, w, &err), 0);
        xmlTextWriterEndDocument(w);
        xmlFreeTextWriter(w);
        assert_string_equal((const char *) xmlBufferContent(buf), "<return>true</return>\n");
        xmlBufferFree(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_form),
                cmocka_unit_test(test_ec2_flattening),
                cmocka_unit_test(test_ec2_output),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
