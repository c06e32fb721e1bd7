using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Integrity;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Integrity;

/// <summary>The flat line store against a dictionary of per-frame arrays (the layout it replaced), and its size per frame.</summary>
public sealed class LineStoreTests
{
    private sealed class Frame
    {
        public ulong Owner;
        public ulong Poison;
        public readonly ushort[] Keys = new ushort[PageGeometry.LinesPerPage];
        public readonly uint[] Macs = new uint[PageGeometry.LinesPerPage];
    }

    [Fact]
    public void RandomOperations_OnSparsePfns_MatchADictionaryOfFrames()
    {
        var random = new Random(5);
        var store = new LineStore(withMacs: true);
        var model = new Dictionary<ulong, Frame>();
        // A few dense pfns and a few near the top of a 64 TiB host, so index chunks, slot reuse and key rows all recur.
        var pfns = Enumerable.Range(0, 40).Select(i => (ulong)i).Concat(Enumerable.Range(0, 8).Select(i => (1UL << 34) - 1 - (ulong)i * 5000)).ToArray();
        for (var step = 0; step < 20000; step++)
        {
            var pfn = pfns[random.Next(pfns.Length)];
            var line = random.Next(PageGeometry.LinesPerPage);
            var key = (ushort)random.Next(0, 4);
            switch (random.Next(7))
            {
                case 0:
                    store.Remove(new Pfn(pfn));
                    model.Remove(pfn);
                    break;
                case 1:
                    store.SetKey(store.GetOrAdd(new Pfn(pfn)), line, key);
                    Get(model, pfn).Keys[line] = key;
                    break;
                case 2:
                    store.SetAllKeys(store.GetOrAdd(new Pfn(pfn)), key);
                    Array.Fill(Get(model, pfn).Keys, key);
                    break;
                case 3:
                    store.Owner(store.GetOrAdd(new Pfn(pfn))) ^= 1UL << line;
                    Get(model, pfn).Owner ^= 1UL << line;
                    break;
                case 4:
                    store.Poison(store.GetOrAdd(new Pfn(pfn))) |= 1UL << line;
                    Get(model, pfn).Poison |= 1UL << line;
                    break;
                case 5:
                    var mac = (uint)random.Next();
                    store.Mac(store.GetOrAdd(new Pfn(pfn)), line) = mac;
                    Get(model, pfn).Macs[line] = mac;
                    break;
                default:
                    var slot = store.Find(new Pfn(pfn));
                    if (slot != LineStore.None && store.IsPlain(slot))
                    {
                        Assert.True(model[pfn].Owner == 0 && model[pfn].Poison == 0 && model[pfn].Keys.All(k => k == 0));
                        store.Remove(new Pfn(pfn));
                        model.Remove(pfn);
                    }
                    break;
            }
            AssertSame(store, model, pfn);
        }
        Assert.Equal(model.Count, store.Count);
        foreach (var pfn in pfns) AssertSame(store, model, pfn);
    }

    [Theory]
    [InlineData("tdx-li", 24)]
    [InlineData("tdx-ci", 280)]
    public void AcceptedFrames_CostTheirSlotAndIndexEntry_PerFrame(string controller, int bytesPerFrame)
    {
        const int frames = 1 << 16;
        var rig = ControllerRig.Create(controller);
        var before = rig.Controller.LineMetadataBytes;
        for (var pfn = 0UL; pfn < frames; pfn++) rig.Controller.Reinitialize(new Pfn(pfn), rig.VmKey);

        var perFrame = (double)(rig.Controller.LineMetadataBytes - before) / frames;

        // Owner mask 8 B + poison mask 8 B + KeyID word 4 B + index entry 4 B (+ 64 × 4 B MACs under tdx-ci);
        // the index's directory page (32 KiB for 2^24 pfns) adds 0.5 B a frame here.
        Assert.InRange(perFrame, bytesPerFrame, bytesPerFrame + 0.51);
        Assert.Equal(frames, rig.Controller.TrackedFrames);
    }

    private static Frame Get(Dictionary<ulong, Frame> model, ulong pfn)
    {
        if (!model.TryGetValue(pfn, out var frame)) model[pfn] = frame = new Frame();
        return frame;
    }

    private static void AssertSame(LineStore store, Dictionary<ulong, Frame> model, ulong pfn)
    {
        var slot = store.Find(new Pfn(pfn));
        Assert.Equal(model.ContainsKey(pfn), slot != LineStore.None);
        if (slot == LineStore.None)
        {
            Assert.Equal(0, store.KeyOf(slot, 7));
            return;
        }
        var frame = model[pfn];
        Assert.Equal(frame.Owner, store.Owner(slot));
        Assert.Equal(frame.Poison, store.Poison(slot));
        for (var line = 0; line < PageGeometry.LinesPerPage; line++)
        {
            Assert.Equal(frame.Keys[line], store.KeyOf(slot, line));
            Assert.Equal(frame.Macs[line], store.Mac(slot, line));
        }
    }
}
