using CsCheck;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.KeyIds;
using Vmm.Plugins.Tdx.Li;
using Vmm.Plugins.Tdx.Mktme;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.KeyIds;

public sealed class KeyIdLayoutTests
{
    private static readonly ControllerHost Host = new();

    [Fact]
    public void EncodeThenDecode_GivesBackPfnOffsetAndKeyId()
    {
        var cases =
            from bits in Gen.Int[1, 15]
            from addressBits in Gen.Int[Math.Max(36, bits + 13), 52]
            let layout = new KeyIdLayout(bits, 0, addressBits)
            from pfn in Gen.ULong[0, (1UL << (layout.KeyIdShift - PageGeometry.PageShift)) - 1]
            from offset in Gen.Int[0, PageGeometry.PageSize - 1]
            from key in Gen.Int[0, (1 << bits) - 1]
            select (layout, pfn, offset, key);
        cases.Sample((layout, pfn, offset, key) =>
        {
            var encoded = layout.Encode(new Pfn(pfn), offset, new KeyId((ushort)key));
            Assert.True(encoded < 1UL << layout.PhysicalAddressBits);
            Assert.Equal((new Pfn(pfn), offset, new KeyId((ushort)key)), layout.Decode(encoded));
        }, iter: 5000);
    }

    [Fact]
    public void Encode_PutsTheKeyIdInTheTopBitsOfThePhysicalAddress()
    {
        var layout = new KeyIdLayout(6, 32, 52);
        Assert.Equal(46, layout.KeyIdShift);
        Assert.Equal(0x1040UL | (33UL << 46), layout.Encode(new Pfn(1), 0x40, new KeyId(33)));
        Assert.Equal(0x1040UL, layout.Encode(new Pfn(1), 0x40, KeyId.Shared));
    }

    [Theory]
    [InlineData(6, 32, 32)]
    [InlineData(6, 0, 64)]
    [InlineData(6, 63, 1)]
    [InlineData(4, 5, 11)]
    [InlineData(1, 1, 1)]
    [InlineData(15, 1000, 31768)]
    public void IsPrivate_HoldsForExactlyTheTopPrivateKeyIds(int bits, int privateKeyIds, int firstPrivate)
    {
        var layout = new KeyIdLayout(bits, privateKeyIds, 52);
        Assert.Equal(firstPrivate, layout.FirstPrivate);
        Assert.Equal(1 << bits, layout.KeyIdCount);
        var privates = Enumerable.Range(0, 1 << bits).Where(k => layout.IsPrivate(new KeyId((ushort)k))).ToList();
        Assert.Equal(privateKeyIds, privates.Count);
        Assert.All(privates, k => Assert.True(k >= firstPrivate));
        Assert.False(layout.IsPrivate(KeyId.Shared));
        Assert.False(layout.IsPrivate(new KeyId((ushort)(1 << bits))));
    }

    [Theory]
    [InlineData(0, 0, 52, "tdx.keyIdBits")]
    [InlineData(16, 0, 52, "tdx.keyIdBits")]
    [InlineData(6, 0, 35, "tdx.physicalAddressBits")]
    [InlineData(6, 0, 53, "tdx.physicalAddressBits")]
    [InlineData(6, -1, 52, "tdx.privateKeyIds")]
    [InlineData(6, 64, 52, "tdx.privateKeyIds")]
    [InlineData(6, 0, 52, "tdx.privateKeyIds")]
    public void TdxControllers_WithBadKeyIdOptions_ThrowNamingTheOption(int bits, int privateKeyIds, int addressBits, string option)
    {
        var options = new TdxOptions { KeyIdBits = bits, PrivateKeyIds = privateKeyIds, PhysicalAddressBits = addressBits };
        Assert.Equal(option, Assert.Throws<ComponentOptionsException>(() => new TdxLiMemoryController(options, Host.Physical, Host.CostLedger)).Option);
        Assert.Equal(option, Assert.Throws<ComponentOptionsException>(() => new TdxCiMemoryController(options, Host.Physical, Host.CostLedger)).Option);
    }

    [Theory]
    [InlineData(0, 0, 52, "mktme.keyIdBits")]
    [InlineData(6, 0, 30, "mktme.physicalAddressBits")]
    [InlineData(6, 64, 52, "mktme.privateKeyIds")]
    public void Mktme_WithBadKeyIdOptions_ThrowsNamingItsOwnOption(int bits, int privateKeyIds, int addressBits, string option)
    {
        var options = new MktmeOptions { KeyIdBits = bits, PrivateKeyIds = privateKeyIds, PhysicalAddressBits = addressBits };
        Assert.Equal(option, Assert.Throws<ComponentOptionsException>(() => new MktmeMemoryController(options, Host.Physical, Host.CostLedger)).Option);
    }

    [Theory]
    [InlineData("md5", "0x5444582d43692d6d61632d6b65792121", "tdx.mac")]
    [InlineData("aes", "0x5444", "tdx.macKey")]
    public void TdxCi_WithBadMacOptions_ThrowsNamingTheOption(string mac, string key, string option)
    {
        var e = Assert.Throws<ComponentOptionsException>(() => new TdxCiMemoryController(new TdxOptions { Mac = mac, MacKey = key }, Host.Physical, Host.CostLedger));
        Assert.Equal(option, e.Option);
    }

    [Fact]
    public void AssignPrivateKey_UnderTdx_HandsOutTheTopKeyIdsOncePerVmUntilExhausted()
    {
        var controller = new TdxCiMemoryController(new TdxOptions { KeyIdBits = 3, PrivateKeyIds = 2 }, Host.Physical, Host.CostLedger);
        Assert.Equal(new KeyId(6), controller.AssignPrivateKey(new VmId(0)));
        Assert.Equal(new KeyId(7), controller.AssignPrivateKey(new VmId(1)));
        Assert.Equal(new KeyId(6), controller.AssignPrivateKey(new VmId(0)));
        var e = Assert.Throws<ComponentOptionsException>(() => controller.AssignPrivateKey(new VmId(2)));
        Assert.Equal("tdx.privateKeyIds", e.Option);
        Assert.Contains("6..7", e.Message);
    }

    [Fact]
    public void AssignPrivateKey_UnderMktme_HandsOutSharedKeyIdsBelowTheTdxRangeUntilExhausted()
    {
        var controller = new MktmeMemoryController(new MktmeOptions { KeyIdBits = 2, PrivateKeyIds = 1 }, Host.Physical, Host.CostLedger);
        Assert.Equal(new KeyId(1), controller.AssignPrivateKey(new VmId(0)));
        Assert.Equal(new KeyId(2), controller.AssignPrivateKey(new VmId(1)));
        var e = Assert.Throws<ComponentOptionsException>(() => controller.AssignPrivateKey(new VmId(2)));
        // More MKTME KeyIDs come from more KeyID bits (or fewer TDX ones), never from more private KeyIDs.
        Assert.Equal("mktme.keyIdBits", e.Option);
        Assert.Contains("1..2", e.Message);
    }
}
