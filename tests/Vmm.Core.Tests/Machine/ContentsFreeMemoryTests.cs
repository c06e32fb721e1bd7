using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Options;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Tests.Machine;

/// <summary>Contents-free memory (memory.contents "none"): which frames were written is kept exactly, their bytes not at all.</summary>
public sealed class ContentsFreeMemoryTests
{
    [Fact]
    public void PeekAndMaterialize_ContentsFree_SayWrittenOrNotAsFullMemoryDoes_ButReadZeros()
    {
        var full = new PhysicalMemory(1024);
        var free = PhysicalMemory.ContentsFree(1024);
        foreach (var memory in new[] { full, free })
        {
            memory.Materialize(new Pfn(5))[100] = 0xAB;
            memory.Materialize(new Pfn(700))[0] = 0xCD;
            memory.Discard(new Pfn(700));
        }

        Assert.True(full.KeepsContents);
        Assert.False(free.KeepsContents);
        foreach (var pfn in new ulong[] { 0, 5, 6, 700, 1023 })
            Assert.Equal(full.Peek(new Pfn(pfn)).IsEmpty, free.Peek(new Pfn(pfn)).IsEmpty);
        Assert.Equal(0xAB, full.Peek(new Pfn(5))[100]);
        Assert.Equal(PageGeometry.PageSize, free.Peek(new Pfn(5)).Length);
        Assert.False(free.Peek(new Pfn(5)).ContainsAnyExcept((byte)0));
        Assert.Equal(1, full.MaterializedFrames);
        Assert.Equal(full.MaterializedFrames, free.MaterializedFrames);
    }

    [Fact]
    public void Footprint_ContentsFree_OfAMillionWrittenFrames_IsAnEighthOfAByteEach()
    {
        const long frames = 1L << 22;
        const int written = 1 << 20;
        var free = PhysicalMemory.ContentsFree(frames);
        var full = new PhysicalMemory(frames);
        for (var i = 0; i < written; i++)
        {
            var pfn = new Pfn((ulong)i);
            free.Materialize(pfn)[0] = 1;
            if (i < 1024) full.Materialize(pfn)[0] = 1;
        }

        Assert.Equal(written, free.MaterializedFrames);
        var perFrame = (double)free.FootprintBytes / written;
        // One bit per frame of the written span (here dense), in chunks made only where something was written.
        Assert.True(perFrame < 0.13, $"{perFrame:0.###} B per written frame");
        Assert.True(full.FootprintBytes / 1024 >= PageGeometry.PageSize, $"full memory holds {full.FootprintBytes} B for 1024 frames");
    }

    [Fact]
    public void MemoryOption_None_IsBoundFromScenarioOptions_AndABadValueIsOneMessageAtTheOption()
    {
        var source = new ScenarioOptionsSource();
        source.Configure([new("memory.contents", (System.Text.Json.JsonSerializer.SerializeToElement("none"), new SourceLocation("a.json", 3, 5)))], []);
        Assert.True(source.Get<MemoryOptions>(MemoryOptions.Section).ContentsFree);
        Assert.False(PhysicalMemory.For(source.Get<MemoryOptions>(MemoryOptions.Section)).KeepsContents);

        var bad = Assert.Throws<ScenarioException>(() => source.Configure([new("memory.contents", (System.Text.Json.JsonSerializer.SerializeToElement("nothing"), new SourceLocation("a.json", 3, 5)))], []));
        Assert.Contains("memory.contents", bad.Message, StringComparison.Ordinal);
        Assert.Contains("\"full\" or \"none\"", bad.Message, StringComparison.Ordinal);
    }
}
