using System.Text.Json;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Core.Engine.Ops;
using static Vmm.Core.Tests.Infrastructure.ScenarioJson;

namespace Vmm.Core.Tests.Scenarios;

public class ScenarioParserTests
{
    private const string FullScenario = """
        {
          // comments and trailing commas are allowed
          "name": "host read of a private page gets SIGBUS",
          "description": "the contract's own example",
          "kernel": "6.11",
          "components": { "memory": "tdx-ci", "policy": "hwpoison-v2", "thp": "split", "faults": "linux", "pagetable": "x86-64" },
          "options": { "linux.earlyKill": false },
          "host": { "memory": "256M" },
          "vms": [
            { "name": "td1", "memory": "64M", "protected": true, "backing": "guest-memfd", "thp": true },
            { "name": "vm2", "memory": 8388608 },
          ],
          "steps": [
            { "op": "guest.write", "vm": "td1", "gpa": "0x1000", "data": "0xdeadbeef", "shared": true, "expect": "ok" },
            { "op": "host.gup", "hva": "0x7f0000000000", "pages": 2, "flags": ["write", "pin", "fast"], "expect": { "ok": { "count": 2 } } },
            { "op": "host.fallocate", "vm": "td1", "offset": "2M", "size": "4K", "mode": ["PUNCH_HOLE", "KEEP_SIZE"] },
            { "op": "guest.convert", "vm": "td1", "gpa": 0, "size": "0x2000", "to": "shared" },
            { "op": "hw.flip-bit", "pfn": "0x1234", "bit": 511 },
            { "op": "hw.memory-error", "vm": "vm2", "gpa": "0x3000", "consumed": true, "expect": "host-panic" },
            { "op": "vmm.set-attributes", "vm": "td1", "gpa": "0x1000", "size": "4K", "private": false },
            { "op": "host.madvise", "vm": "vm2", "gpa": "0x1000", "size": "4K", "advice": "SOFT_OFFLINE" },
          ],
        }
        """;

    [Fact]
    public void Parse_FullScenario_ReadsEveryTopLevelField()
    {
        var scenario = Parse(FullScenario);

        Assert.Equal("host read of a private page gets SIGBUS", scenario.Name);
        Assert.Equal("the contract's own example", scenario.Description);
        Assert.Equal(new KernelVersion(6, 11), scenario.Kernel);
        Assert.Equal("tdx-ci", scenario.Components[ComponentKind.Memory]);
        Assert.Equal("hwpoison-v2", scenario.Components[ComponentKind.Policy]);
        Assert.Equal("x86-64", scenario.Components[ComponentKind.PageTable]);
        Assert.Equal(256UL << 20, scenario.HostMemory);
        Assert.False(scenario.Options["linux.earlyKill"].Value.GetBoolean());
        Assert.Equal(FileName, scenario.File);
    }

    [Fact]
    public void Parse_FullScenario_ReadsVmsWithDefaults()
    {
        var vms = Parse(FullScenario).Vms;

        Assert.Equal(new VmSpec("td1", 64UL << 20, true, BackingKind.GuestMemfd, true, vms[0].Location), vms[0]);
        Assert.Equal(new VmSpec("vm2", 8UL << 20, false, BackingKind.Shmem, false, vms[1].Location), vms[1]);
        Assert.Equal(new SourceLocation(FileName, 10, 5), vms[0].Location);
    }

    [Fact]
    public void Parse_FullScenario_ReadsStepArguments()
    {
        var steps = Parse(FullScenario).Steps;

        Assert.Equal(8, steps.Count);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], steps.Select(s => s.Index));
        var write = Assert.IsType<GuestWrite>(steps[0].Op);
        Assert.Equal("guest.write", write.Name);
        Assert.Equal(new StepAddress("td1", 0x1000), write.At);
        Assert.Equal(new byte[] { 0xde, 0xad, 0xbe, 0xef }, write.Data);
        Assert.True(write.Shared);
        Assert.Equal(OutcomeKind.Ok, steps[0].Expect!.Kind);
        Assert.Equal(new HostGup(2, GupFlags.Write | GupFlags.Pin | GupFlags.Fast) { At = new(Hva: 0x7f0000000000) }, steps[1].Op);
        Assert.Equal(2, steps[1].Expect!.Count);
        var fallocate = Assert.IsType<Fallocate>(steps[2].Op);
        Assert.Equal(new StepAddress("td1", Offset: 2UL << 20), fallocate.At);
        Assert.Equal(["PUNCH_HOLE", "KEEP_SIZE"], fallocate.Mode);
        Assert.Null(steps[2].Expect);
        Assert.Equal(new GuestConvert(0x2000, ToPrivate: false) { At = new("td1", 0) }, steps[3].Op);
        Assert.Equal(new FlipBit(511) { At = new(Pfn: 0x1234) }, steps[4].Op);
        Assert.Equal(new MemoryError(Consumed: true) { At = new("vm2", 0x3000) }, steps[5].Op);
        Assert.Equal(new SetAttributes(0x1000, Private: false) { At = new("td1", 0x1000) }, steps[6].Op);
        Assert.Equal(new Madvise(0x1000, "SOFT_OFFLINE") { At = new("vm2", 0x1000) }, steps[7].Op);
        Assert.Equal(new SourceLocation(FileName, 14, 5), steps[0].Location);
    }

    [Fact]
    public void Parse_MinimalScenario_UsesDefaults()
    {
        var scenario = Parse("""{ "name": "n", "steps": [] }""");

        Assert.Equal(KernelVersion.Default, scenario.Kernel);
        Assert.Empty(scenario.Components);
        Assert.Empty(scenario.Options);
        Assert.Null(scenario.HostMemory);
        Assert.Empty(scenario.Vms);
        Assert.Empty(scenario.Steps);
    }

    [Fact]
    public void Parse_MalformedJson_ReportsLineAndColumnOfTheError()
    {
        var error = Error("{\n  \"name\": \"x\",\n  \"steps\": [ }\n}");

        Assert.Equal(new SourceLocation(FileName, 3, 14), error.Location);
        Assert.StartsWith("invalid JSON:", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EmptyFile_IsInvalidJsonAtLineOne()
    {
        var error = Error("");

        Assert.Equal(1, error.Location.Line);
        Assert.Contains("invalid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateProperty_FailsAtTheSecondOne()
    {
        var error = Error("{\n \"name\": \"a\",\n \"name\": \"b\", \"steps\": [] }");

        Assert.Equal(new SourceLocation(FileName, 3, 2), error.Location);
        Assert.Contains("duplicate property \"name\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TopLevelArray_SaysAScenarioIsAnObject()
    {
        var error = Error("[]");

        Assert.Contains("a scenario is one JSON object", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "steps": [] }""", "\"name\"")]
    [InlineData("""{ "name": "n" }""", "\"steps\"")]
    public void Parse_WithoutRequiredProperty_NamesIt(string json, string property)
    {
        var error = Error(json);

        Assert.Equal($"the scenario needs {property}", error.Message);
        Assert.Equal(new SourceLocation(FileName, 1, 1), error.Location);
    }

    [Fact]
    public void Parse_EmptyName_IsRejected()
    {
        var error = Error("""{ "name": "", "steps": [] }""");

        Assert.Contains("must not be empty", error.Message, StringComparison.Ordinal);
        Assert.Equal(11, error.Location.Column);
    }

    [Fact]
    public void Parse_UnknownTopLevelProperty_ListsTheKnownOnes()
    {
        var error = Error("""{ "name": "n", "step": [], "steps": [] }""");

        Assert.Contains("unknown top-level property \"step\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("steps", error.Message, StringComparison.Ordinal);
        Assert.Equal(16, error.Location.Column);
    }

    [Theory]
    [InlineData("\"6\"")]
    [InlineData("\"v6.1\"")]
    [InlineData("\"6.1.2\"")]
    [InlineData("6.1")]
    public void Parse_BadKernel_AsksForAVersionLikeFiveSixteen(string kernel)
    {
        var error = Error($$"""{ "name": "n", "kernel": {{kernel}}, "steps": [] }""");

        Assert.Contains("5.16", error.Message, StringComparison.Ordinal);
        Assert.Equal(26, error.Location.Column);
    }

    [Fact]
    public void Parse_UnknownComponentKind_ListsKinds()
    {
        var error = Error("""{ "name": "n", "components": { "polcy": "none" }, "steps": [] }""");

        Assert.Equal("unknown component kind \"polcy\" (did you mean \"policy\"?); use one of: memory, policy, thp, faults, pagetable", error.Message);
        Assert.Equal(32, error.Location.Column);
    }

    [Fact]
    public void Parse_ComponentNameNotAString_Fails()
    {
        var error = Error("""{ "name": "n", "components": { "policy": 3 }, "steps": [] }""");

        Assert.Contains("\"policy\" is a string", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NestedOptions_AreFlattenedToDottedKeys()
    {
        var scenario = Parse("""{ "name": "n", "options": { "linux": { "earlyKill": true }, "cost.TlbShootdown": 3000 }, "steps": [] }""");

        Assert.Equal(["cost.TlbShootdown", "linux.earlyKill"], scenario.Options.Keys.Order(StringComparer.Ordinal));
        Assert.True(scenario.Options["linux.earlyKill"].Value.GetBoolean());
        Assert.Equal(3000, scenario.Options["cost.TlbShootdown"].Value.GetInt32());
        Assert.Equal(new SourceLocation(FileName, 1, 40), scenario.Options["linux.earlyKill"].Location);
    }

    [Fact]
    public void Parse_OptionWithoutSection_AsksForComponentDotOption()
    {
        var error = Error("""{ "name": "n", "options": { "earlyKill": true }, "steps": [] }""");

        Assert.Contains("\"<component>.<option>\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(29, error.Location.Column);
    }

    [Fact]
    public void Parse_OptionGivenFlatAndNested_IsRejected()
    {
        var error = Error("""{ "name": "n", "options": { "linux.earlyKill": true, "linux": { "earlyKill": false } }, "steps": [] }""");

        Assert.Contains("option \"linux.earlyKill\" is given twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateVmNames_FailAtTheSecondName()
    {
        var error = Error("""{ "name": "n", "vms": [ { "name": "a", "memory": "4K" }, { "name": "a", "memory": "4K" } ], "steps": [] }""");

        Assert.Equal("two VMs are named \"a\"; give each VM its own name", error.Message);
        Assert.Equal(68, error.Location.Column);
    }

    [Fact]
    public void Parse_VmWithoutMemory_NamesTheVm()
    {
        var error = Error("""{ "name": "n", "vms": [ { "name": "a" } ], "steps": [] }""");

        Assert.Equal("VM \"a\" needs \"memory\"", error.Message);
    }

    [Fact]
    public void Parse_BadBacking_ListsAllowedValues()
    {
        var error = Error("""{ "name": "n", "vms": [ { "name": "a", "memory": "4K", "backing": "tmpfs" } ], "steps": [] }""");

        Assert.Equal("unknown backing \"tmpfs\"; use one of: anon, shmem, hugetlb, file, guest-memfd", error.Message);
        Assert.Equal(67, error.Location.Column);
    }

    [Fact]
    public void Parse_UnknownOp_ListsValidOpsAtTheOpValue()
    {
        var error = ScenarioJson.Error("{ \"name\": \"n\", \"steps\": [\n  { \"op\": \"host.reed\" }\n] }");

        Assert.StartsWith("unknown op \"host.reed\" (did you mean \"host.read\"?); use one of: guest.read, guest.write,", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("vm.destroy, inspect, hw.unpoison, host.mprotect", error.Message, StringComparison.Ordinal);
        Assert.Equal(new SourceLocation(FileName, 2, 11), error.Location);
    }

    [Fact]
    public void Parse_StepWithoutOp_Fails()
    {
        var error = StepError("""{ "vm": "vm1" }""");

        Assert.Equal("a step needs \"op\"", error.Message);
    }

    [Fact]
    public void Parse_UnknownStepProperty_NamesItAndTheStep()
    {
        var error = StepError("""{ "op": "host.read", "vm": "vm1", "gpa": "0x1000", "lenght": 4 }""");

        Assert.Equal("unknown property \"lenght\" in step 0 (host.read) (did you mean \"len\"?); host.read takes: op, hva, vm, gpa, len, expect", error.Message);
    }

    [Fact]
    public void Parse_StepVmThatNamesNoVm_ListsTheVms()
    {
        var error = StepError("""{ "op": "host.read", "vm": "vm9", "gpa": "0x1000", "len": 4 }""");

        Assert.Equal("no VM named \"vm9\" (did you mean \"vm1\"?); the scenario's VMs: vm1", error.Message);
    }

    [Fact]
    public void Parse_StepVmThatNamesNoVm_ListsLongOrMultiLineVmNamesShortOnOneLine()
    {
        var longName = new string('x', 5000);
        var vms = string.Join(", ", Enumerable.Range(0, 30).Select(i => $$"""{ "name": "{{longName}}{{i}}\n", "memory": "4K" }"""));

        var error = Error($$"""{ "name": "n", "vms": [ {{vms}} ], "steps": [ { "op": "vm.destroy", "vm": "vm0" } ] }""");

        Assert.StartsWith("no VM named \"vm0\"; the scenario's VMs: xxx", error.Message, StringComparison.Ordinal);
        Assert.InRange(error.Message.Length, 1, 400);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Parse_StepVmWithNoVmsDeclared_SaysToAddOne()
    {
        var error = Error("""{ "name": "n", "steps": [ { "op": "vm.destroy", "vm": "vm1" } ] }""");

        Assert.Contains("add one under \"vms\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "op": "host.madvise", "vm": "vm1", "gpa": 0, "size": "4K", "advice": "POISON" }""", "unknown advice \"POISON\" (did you mean \"HWPOISON\"?); use one of: HWPOISON, SOFT_OFFLINE, DONTNEED, HUGEPAGE, NOHUGEPAGE")]
    [InlineData("""{ "op": "guest.convert", "vm": "vm1", "gpa": 0, "size": "4K", "to": "secret" }""", "unknown to \"secret\"; use one of: private, shared")]
    [InlineData("""{ "op": "host.gup", "vm": "vm1", "gpa": 0, "flags": ["write", "pinned"] }""", "unknown flags \"pinned\" (did you mean \"pin\"?); use one of: write, hwpoison, allow-poisoned, pin, fast")]
    [InlineData("""{ "op": "host.fallocate", "vm": "vm1", "size": "4K", "mode": ["PUNCH"] }""", "unknown mode \"PUNCH\" (did you mean \"PUNCH_HOLE\"?); use one of: PUNCH_HOLE, KEEP_SIZE")]
    public void Parse_BadEnumValue_NamesAllowedValues(string step, string message)
    {
        var error = Error(WithSteps($"[{step}]").Replace("\"anon\"", "\"shmem\"", StringComparison.Ordinal));

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("""{ "op": "hw.flip-bit", "pfn": 1, "bit": 512 }""", "\"bit\" must be between 0 and 511, not 512")]
    [InlineData("""{ "op": "host.gup", "hva": 0, "pages": 0 }""", "\"pages\" must be at least 1, not 0")]
    [InlineData("""{ "op": "guest.read", "shared": "yes" }""", "\"shared\" is true or false, not \"yes\"")]
    [InlineData("""{ "op": "host.gup", "vm": 1 }""", "\"vm\" is a string, not 1")]
    [InlineData("""{ "op": "host.gup", "flags": "write" }""", "\"flags\" is a list like [\"write\", \"pin\"], not \"write\"")]
    public void Parse_ArgumentOfWrongType_SaysWhatItShouldBe(string step, string message)
    {
        var error = StepError(step);

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("0x1000", 0x1000UL)]
    [InlineData("4K", 4096UL)]
    [InlineData("2M", 2UL << 20)]
    [InlineData("1G", 1UL << 30)]
    [InlineData("1T", 1UL << 40)]
    [InlineData("0x10K", 16UL << 10)]
    [InlineData("0xFFFFFFFFFFFFFFFF", ulong.MaxValue)]
    [InlineData("18446744073709551615", ulong.MaxValue)]
    [InlineData("16383T", 16383UL << 40)]
    [InlineData("0X1000", null)]
    [InlineData("4k", null)]
    [InlineData("4KB", null)]
    [InlineData("-1", null)]
    [InlineData("1.5", null)]
    [InlineData("0x", null)]
    [InlineData("16384T", 16384UL << 40)]
    [InlineData("18446744073709551616", null)]
    [InlineData("0x10000000000000000", null)]
    public void TryParseSize_AcceptsIntegersHexAndBinarySuffixesThatFitIn64Bits(string text, ulong? expected)
    {
        var parsed = ScenarioParser.TryParseSize(text, out var value);

        Assert.Equal(expected is not null, parsed);
        if (expected is { } v) Assert.Equal(v, value);
    }

    [Theory]
    [InlineData("4096", 4096UL)]
    [InlineData("\"4096\"", 4096UL)]
    [InlineData("\"0x1000\"", 0x1000UL)]
    [InlineData("\"4K\"", 4096UL)]
    [InlineData("\"8M\"", 8UL << 20)]
    public void Parse_Size_InAStep_IsReadInEveryForm(string size, ulong expected)
    {
        Assert.Equal(expected, Assert.IsType<Munmap>(Step($$"""{ "op": "host.munmap", "vm": "vm1", "gpa": 0, "size": {{size}} }""").Op).Size);
    }

    [Theory]
    [InlineData("\"0X1000\"", "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\" for \"size\", not \"0X1000\"")]
    [InlineData("\"4k\"", "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\" for \"size\", not \"4k\"")]
    [InlineData("\"0x\"", "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\" for \"size\", not \"0x\"")]
    [InlineData("true", "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\" for \"size\", not true")]
    [InlineData("-1", "\"size\" must not be negative, not -1;")]
    [InlineData("\"-1\"", "\"size\" must not be negative, not \"-1\";")]
    [InlineData("1.5", "\"size\" must be a whole number of bytes, not 1.5;")]
    [InlineData("\"1.5M\"", "\"size\" must be a whole number of bytes, not \"1.5M\";")]
    [InlineData("1e3", "\"size\" must be a whole number of bytes, not 1e3;")]
    [InlineData("18446744073709551616", "\"size\" is 18446744073709551616, which does not fit in 64 bits")]
    [InlineData("\"0x10000000000000000\"", "\"size\" is \"0x10000000000000000\", which does not fit in 64 bits")]
    [InlineData("\"16777216T\"", "\"size\" is \"16777216T\", which does not fit in 64 bits")]
    public void Parse_BadSize_SaysWhatIsWrongAtTheValue(string size, string message)
    {
        var error = Error("{ \"name\": \"n\", \"vms\": [ { \"name\": \"vm1\", \"memory\": \"8M\" } ],\n  \"steps\": [ { \"op\": \"host.munmap\", \"vm\": \"vm1\", \"gpa\": 0, \"size\": " + size + " } ] }");

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(new SourceLocation(FileName, 2, 68), error.Location);
    }

    [Fact]
    public void Parse_HexData_KeepsBytesInTheOrderWritten()
    {
        Assert.Equal(new byte[] { 0x01, 0x02, 0xab, 0xCD }, Assert.IsType<HostWrite>(Step("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": "0x0102abCD" }""").Op).Data);
    }

    [Fact]
    public void Parse_FillData_RepeatsTheFillToLength()
    {
        var data = Assert.IsType<HostWrite>(Step("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": { "fill": "0xaa", "len": "4K" } }""").Op).Data;

        Assert.Equal(4096, data.Length);
        Assert.All(data, b => Assert.Equal(0xaa, b));
    }

    [Fact]
    public void Parse_PatternData_IsTheDocumentedXorshiftStream()
    {
        var data = Assert.IsType<HostWrite>(Step("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": { "pattern": 7, "len": 12 } }""").Op).Data;

        Assert.Equal(Convert.FromHexString("b402fba2eda8b765a12f4524"), data);
    }

    [Theory]
    [InlineData("\"0xabc\"")]
    [InlineData("\"abcd\"")]
    [InlineData("\"0x\"")]
    [InlineData("42")]
    [InlineData("{ \"len\": 4 }")]
    [InlineData("{ \"fill\": \"aa\", \"len\": 4 }")]
    [InlineData("{ \"pattern\": \"7\", \"len\": 4 }")]
    [InlineData("{ \"pattern\": 7 }")]
    [InlineData("{ \"pattern\": 7, \"len\": 4, \"seed\": 1 }")]
    [InlineData("{ \"fill\": \"0xaa\", \"len\": \"2G\" }")]
    public void Parse_BadData_IsRejected(string data)
    {
        var error = StepError($$"""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": {{data}} }""");

        Assert.True(error.Location.Line > 0, error.Message);
    }

    [Fact]
    public void Parse_BadDataString_ShowsTheAcceptedForms()
    {
        var error = StepError("""{ "op": "host.write", "vm": "vm1", "gpa": 0, "data": "0xabc" }""");

        Assert.Contains("{\"pattern\": 7, \"len\": 4096}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LocationOf_ParsedComponent_IsWhereItsNameStands()
    {
        var scenario = Parse("{ \"name\": \"n\",\n  \"components\": { \"policy\": \"x\" }, \"steps\": [] }");

        Assert.Equal(new SourceLocation(FileName, 2, 29), scenario.LocationOf(ComponentKind.Policy));
        Assert.Equal(new SourceLocation(FileName, 0, 0), scenario.LocationOf(ComponentKind.Memory));
    }

    [Fact]
    public void ParseFile_MissingFile_FailsWithTheFileName()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vmm-missing-{Guid.NewGuid():N}.json");

        var error = Assert.Throws<ScenarioException>(() => ScenarioParser.ParseFile(path));

        Assert.Equal(path, error.Location.File);
        Assert.Equal($"{path}: no such file; check the path", error.ToString());
    }

    [Fact]
    public void ParseFile_WithByteOrderMark_Parses()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vmm-bom-{Guid.NewGuid():N}.json");
        System.IO.File.WriteAllText(path, """{ "name": "bom", "steps": [] }""", new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        try
        {
            Assert.Equal("bom", ScenarioParser.ParseFile(path).Name);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void Parse_OptionValue_SurvivesTheDocument()
    {
        var scenario = Parse("""{ "name": "n", "options": { "x.y": { "z": [1, 2] } }, "steps": [] }""");

        Assert.Equal(JsonValueKind.Array, scenario.Options["x.y.z"].Value.ValueKind);
        Assert.Equal(2, scenario.Options["x.y.z"].Value.GetArrayLength());
    }
}
