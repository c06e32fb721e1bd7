using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Core.Engine.Ops;
using static Vmm.Core.Tests.Scenarios.ScenarioTestText;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>
/// Every vm+gpa range inside its VM, offset+size inside the backing file, pfn below the host's frame count:
/// checked when the file is read, without wrapping, at the value that is too large. hva-based steps are left to the run.
/// </summary>
public class StepRangeTests
{
    private static ScenarioException Error(string json) => ScenarioJson.Error(json);

    private static StepSpec Step(string step) => ScenarioJson.Parse(OnShmem(step)).Steps[0];

    [Fact]
    public void Convert_OfTheWholeVm_Parses()
    {
        Assert.Equal(8UL << 20, Step("""{ "op": "guest.convert", "vm": "vm1", "gpa": 0, "size": "8M", "to": "shared" }""").Op is GuestConvert convert ? convert.Size : 0);
    }

    [Fact]
    public void Convert_16MOnAn8MVm_IsBadInputAtTheSize()
    {
        var json = OnShmem("""{ "op": "guest.convert", "vm": "vm1", "gpa": 0, "size": "16M", "to": "shared" }""");

        var error = Error(json);

        Assert.Equal("step 0 (guest.convert): gpa 0x0 + size 0x1000000 runs past the end of VM \"vm1\", whose memory is 8M; keep gpa + size within 8M or give the VM more memory", error.Message);
        Assert.Equal(At(json, "\"16M\""), error.Location);
    }

    [Theory]
    [InlineData("""{ "op": "vmm.set-attributes", "vm": "vm1", "gpa": "0x1000", "size": "0xFFFFFFFFFFFFF000", "private": true }""", "\"0xFFFFFFFFFFFFF000\"")]
    [InlineData("""{ "op": "host.madvise", "vm": "vm1", "gpa": "0x7ff000", "size": "18446744073709551615", "advice": "DONTNEED" }""", "\"18446744073709551615\"")]
    [InlineData("""{ "op": "host.munmap", "vm": "vm1", "gpa": "4K", "size": "0xFFFFFFFFFFFFFFFF" }""", "\"0xFFFFFFFFFFFFFFFF\"")]
    public void GpaPlusSize_ThatWouldWrap_IsBadInputNotAnOverflow(string step, string at)
    {
        var json = OnShmem(step);

        var error = Error(json);

        Assert.Contains("runs past the end of VM \"vm1\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, at), error.Location);
    }

    [Fact]
    public void Gpa_AtTheEndOfTheVm_IsBadInputAtTheGpa()
    {
        var json = OnShmem("""{ "op": "inspect", "vm": "vm1", "gpa": "8M" }""");

        var error = Error(json);

        Assert.Equal("step 0 (inspect): gpa 0x800000 is outside VM \"vm1\", whose memory is 8M (gpa 0 to 0x7fffff); use a smaller gpa or give the VM more memory", error.Message);
        Assert.Equal(At(json, "\"8M\" }", 2), error.Location);
    }

    [Theory]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": "0x7ff000", "len": 4096 }""")]
    [InlineData("""{ "op": "guest.write", "vm": "vm1", "gpa": "0x7ffffe", "data": "0xabcd" }""")]
    [InlineData("""{ "op": "kernel.read", "vm": "vm1", "gpa": "0x7ff000", "len": "4K" }""")]
    [InlineData("""{ "op": "host.gup", "vm": "vm1", "gpa": "0x7fe123", "pages": 2 }""")]
    public void Range_EndingAtTheEndOfTheVm_Parses(string step)
    {
        Assert.NotNull(Step(step));
    }

    [Theory]
    [InlineData("""{ "op": "host.read", "vm": "vm1", "gpa": "0x7ff000", "len": 4097 }""", "4097", "gpa 0x7ff000 + len 0x1001")]
    [InlineData("""{ "op": "guest.write", "vm": "vm1", "gpa": "0x7fffff", "data": "0xabcd" }""", "\"0xabcd\"", "gpa 0x7fffff + data 0x2")]
    [InlineData("""{ "op": "kernel.read", "vm": "vm1", "gpa": "0x7ff000", "len": "8K" }""", "\"8K\"", "gpa 0x7ff000 + len 0x2000")]
    [InlineData("""{ "op": "host.gup", "vm": "vm1", "gpa": "0x7fe123", "pages": 3 }""", "3 }", "gpa 0x7fe000 + pages 0x3000")]
    [InlineData("""{ "op": "host.gup", "vm": "vm1", "gpa": 0, "pages": 2147483647 }""", "2147483647", "gpa 0x0 + pages 0x7fffffff000")]
    public void Range_OnePastTheEndOfTheVm_IsBadInputAtItsLength(string step, string at, string message)
    {
        var json = OnShmem(step);

        var error = Error(json);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, at), error.Location);
    }

    [Theory]
    [InlineData("""{ "op": "host.pread", "vm": "vm1", "offset": "0x7ff000", "len": 4096 }""")]
    [InlineData("""{ "op": "host.fallocate", "vm": "vm1", "offset": 0, "size": "8M", "mode": ["PUNCH_HOLE", "KEEP_SIZE"] }""")]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "vm1", "offset": "4M", "size": "4M" }""")]
    [InlineData("""{ "op": "host.pwrite", "vm": "vm1", "offset": "0x7ffffc", "data": "0x01020304" }""")]
    public void FileRange_EndingAtTheEndOfTheFile_Parses(string step)
    {
        Assert.NotNull(Step(step));
    }

    [Theory]
    [InlineData("""{ "op": "host.pread", "vm": "vm1", "offset": "0x7ff000", "len": 4097 }""", "offset 0x7ff000 + len 0x1001")]
    [InlineData("""{ "op": "host.fallocate", "vm": "vm1", "offset": "4K", "size": "8M" }""", "offset 0x1000 + size 0x800000")]
    [InlineData("""{ "op": "host.mmap-backing", "vm": "vm1", "offset": "0xFFFFFFFFFFFFF000", "size": "8K" }""", "offset 0xfffffffffffff000 + size 0x2000")]
    [InlineData("""{ "op": "host.pwrite", "vm": "vm1", "offset": "8M", "data": "0x01" }""", "offset 0x800000 + data 0x1")]
    public void FileRange_PastTheBackingFile_IsBadInputAtTheOffset(string step, string message)
    {
        var json = OnShmem(step);

        var error = Error(json);

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("is outside the backing file of VM \"vm1\" (8M, the VM's size)", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, "\"offset\": ") with { Column = At(json, "\"offset\": ").Column + 10 }, error.Location);
    }

    [Fact]
    public void FileOp_OnAnAnonVm_SaysThereIsNoFile()
    {
        var json = ScenarioJson.WithSteps("""[ { "op": "host.pread", "vm": "vm1", "offset": 0, "len": 4 } ]""");

        var error = Error(json);

        Assert.Equal("step 0 (host.pread): VM \"vm1\" is anon-backed, so there is no backing file; use backing shmem, hugetlb, file or guest-memfd", error.Message);
        Assert.Equal(At(json, "{ \"op\""), error.Location);
    }

    [Fact]
    public void BufferGpa_PastTheVm_IsBadInputAtTheBufferGpa()
    {
        var json = OnShmem("""{ "op": "host.pread", "vm": "vm1", "offset": 0, "len": 8192, "bufferGpa": "0x7ff000" }""");

        var error = Error(json);

        Assert.Contains("bufferGpa 0x7ff000 + len 0x2000 runs past the end of VM \"vm1\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(At(json, "\"0x7ff000\""), error.Location);
    }

    [Fact]
    public void Pfn_BelowTheHostsFrameCount_Parses_AtIt_DoesNot()
    {
        // host.memory 64M = 0x4000 frames of 4K.
        static string Json(string pfn) => $$"""{ "name": "t", "host": { "memory": "64M" }, "steps": [ { "op": "hw.memory-error", "pfn": {{pfn}} } ] }""";
        Assert.Equal(0x3fffUL, ScenarioJson.Parse(Json("\"0x3fff\"")).Steps[0].Op.At.Pfn);

        var json = Json("\"0x4000\"");
        var error = Error(json);

        Assert.Equal("step 0 (hw.memory-error): pfn 0x4000 is outside host memory, which has 0x4000 frames (pfn 0 to 0x3fff); use a smaller pfn or a larger host.memory", error.Message);
        Assert.Equal(At(json, "\"0x4000\""), error.Location);
    }

    [Fact]
    public void Pfn_WithoutHostMemory_IsCheckedAgainstTheDefault()
    {
        // The default host is the VMs' memory plus 256M: 8M + 256M = 0x10800 frames.
        Assert.Equal(0x107ffUL, ScenarioJson.Parse(ScenarioJson.WithSteps("""[ { "op": "inspect", "pfn": "0x107ff" } ]""")).Steps[0].Op.At.Pfn);

        var error = Error(ScenarioJson.WithSteps("""[ { "op": "inspect", "pfn": "0x10800" } ]"""));

        Assert.Contains("pfn 0x10800 is outside host memory, which has 0x10800 frames", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"0xFFFFFFFFFFFFFFFF\"")]
    [InlineData("18446744073709551615")]
    public void Pfn_Near2To64_IsBadInputNotAnOverflow(string pfn)
    {
        var error = Error(ScenarioJson.WithSteps($$"""[ { "op": "kernel.read", "pfn": {{pfn}}, "len": 4 } ]"""));

        Assert.Contains("is outside host memory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PfnPlusLen_PastTheEndOfHostMemory_IsBadInput()
    {
        var json = """{ "name": "t", "host": { "memory": "64M" }, "steps": [ { "op": "kernel.write", "pfn": "0x3fff", "data": { "fill": "0x00", "len": 4097 } } ] }""";

        var error = Error(json);

        Assert.Equal("step 0 (kernel.write): pfn 0x3fff + data 0x1001 runs past the end of host memory (64M); use less data or a smaller pfn", error.Message);
        Assert.Equal(At(json, "\"0x3fff\""), error.Location);
    }

    [Theory]
    [InlineData("""{ "op": "host.read", "hva": "0xFFFFFFFFFFFFFFF0", "len": 4096 }""")]
    [InlineData("""{ "op": "host.munmap", "hva": "0x7f0000000000", "size": "0xFFFFFFFFFFFFFFFF" }""")]
    [InlineData("""{ "op": "host.gup", "hva": 0, "pages": 2147483647 }""")]
    public void HvaSteps_AreLeftToTheRun(string step)
    {
        Assert.NotNull(Step(step));
    }
}
