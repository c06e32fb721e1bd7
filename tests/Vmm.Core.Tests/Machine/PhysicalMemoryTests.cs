using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;

namespace Vmm.Core.Tests.Machine;

/// <summary>Contents in pooled slab slots behave as one zeroed 4 KiB buffer per written frame, whatever slots are reused.</summary>
public class PhysicalMemoryTests
{
    private static readonly ulong[] Pfns = [0, 1, 2, 300, 1023, 1024, 70_000, (1UL << 20) - 1];

    public readonly record struct Step(int Op, int Frame, int Offset, byte Value);

    [Fact]
    public void RandomWritesAndDiscards_ReadBackAsAModelOfOneBufferPerFrame()
    {
        var gen = Gen.Select(Gen.Int[0, 2], Gen.Int[0, Pfns.Length - 1], Gen.Int[0, PageGeometry.PageSize - 1], Gen.Byte[1, 255])
            .Select((op, frame, offset, value) => new Step(op, frame, offset, value))
            .Array[1, 80];
        gen.Sample(steps =>
        {
            var memory = new PhysicalMemory(1L << 20);
            var model = new Dictionary<ulong, byte[]>();
            foreach (var step in steps)
            {
                var pfn = new Pfn(Pfns[step.Frame]);
                if (step.Op == 2)
                {
                    memory.Discard(pfn);
                    model.Remove(pfn.Value);
                }
                else
                {
                    var fresh = !model.ContainsKey(pfn.Value);
                    var span = memory.Materialize(pfn);
                    Assert.Equal(PageGeometry.PageSize, span.Length);
                    if (fresh) Assert.True(span.IndexOfAnyExcept((byte)0) < 0, $"{pfn} is not zero when first written");
                    span[step.Offset] = step.Value;
                    (model.TryGetValue(pfn.Value, out var bytes) ? bytes : model[pfn.Value] = new byte[PageGeometry.PageSize])[step.Offset] = step.Value;
                }
                foreach (var p in Pfns)
                {
                    var seen = memory.Peek(new Pfn(p));
                    if (model.TryGetValue(p, out var expected)) Assert.True(seen.SequenceEqual(expected), $"contents of pfn {p}");
                    else Assert.True(seen.IsEmpty, $"pfn {p} has contents after a discard");
                }
                Assert.Equal(model.Count, memory.MaterializedFrames);
            }
        }, iter: 200, seed: "0N0XIzNsQ0O2");
    }

    [Fact]
    public void ManyFrames_CostAFewBytesEachBesideTheirContents()
    {
        const int frames = 1 << 14;
        var memory = new PhysicalMemory(1L << 24);
        var before = memory.FootprintBytes;

        for (var i = 0; i < frames; i++) memory.Materialize(new Pfn((ulong)i))[0] = 1;

        var perFrame = (memory.FootprintBytes - before - (double)frames * PageGeometry.PageSize) / frames;
        // 4 B of slot number, 2 B of directory page (32 KiB for these 16 Ki frames) and a slab header per 256 frames; a byte[] each cost 32 B
        Assert.True(perFrame <= 6.5, $"{perFrame} B per frame beside its 4 KiB");
        Assert.Equal(frames, memory.MaterializedFrames);
    }
}
