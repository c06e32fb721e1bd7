using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Mktme;

/// <summary>H2: mktme decrypts with whatever KeyID the access carries; a wrong one gives garbage, never poison.</summary>
public sealed class MktmeWrongKeyTests
{
    private const int Line = PageGeometry.LineSize;

    [Fact]
    public void Read_WithTheWritersKeyId_ReturnsTheData()
    {
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(1);
        var data = ControllerRig.Line(1);
        rig.VmWrite(pfn, Line, data);
        var read = new byte[Line];
        Assert.Equal(MemResult.Ok, rig.VmRead(pfn, Line, read));
        Assert.Equal(data, read);
    }

    [Fact]
    public void Read_WithAnotherKeyId_ReturnsDeterministicGarbageWithoutPoison()
    {
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(1);
        var data = ControllerRig.Line(1);
        rig.VmWrite(pfn, Line, data);

        var shared = ReadWith(rig, pfn, Line, KeyId.Shared);
        var other = ReadWith(rig, pfn, Line, new KeyId(2));

        Assert.NotEqual(data, shared);
        Assert.NotEqual(data, other);
        Assert.NotEqual(shared, other);
        Assert.NotEqual(new byte[Line], shared);
        Assert.Equal(shared, ReadWith(rig, pfn, Line, KeyId.Shared));
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
    }

    [Fact]
    public void Read_WithAnotherKeyId_DependsOnAddressAndData()
    {
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(1);
        var data = ControllerRig.Line(1);
        rig.VmWrite(pfn, 0, data);
        rig.VmWrite(pfn, Line, data);
        var changed = (byte[])data.Clone();
        changed[63] ^= 1;
        rig.VmWrite(pfn, 2 * Line, changed);

        var first = ReadWith(rig, pfn, 0, KeyId.Shared);
        Assert.NotEqual(first, ReadWith(rig, pfn, Line, KeyId.Shared));
        var third = ReadWith(rig, pfn, 2 * Line, KeyId.Shared);
        Assert.NotEqual(first, third);
        Assert.NotEqual(first.AsSpan(0, 8).ToArray(), third.AsSpan(0, 8).ToArray()); // one flipped bit changes every word
    }

    [Fact]
    public void Read_OfAPartOfAWrongKeyLine_IsTheSameSliceOfTheGarbage()
    {
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(1);
        rig.VmWrite(pfn, 0, ControllerRig.Line(5));
        var whole = ReadWith(rig, pfn, 0, KeyId.Shared);
        var part = new byte[10];
        Assert.True(rig.Controller.Read(new LineAccess(pfn, 20, KeyId.Shared, Requester.HostUser), part).IsOk);
        Assert.Equal(whole.AsSpan(20, 10).ToArray(), part);
    }

    [Fact]
    public void Read_WithTheVmKeyAfterAWholePageHostWrite_ReturnsGarbage()
    {
        // Every line was last written with KeyID 0, so the VM's KeyID decrypts it wrongly (H2).
        var rig = ControllerRig.Create("mktme");
        var pfn = rig.AcceptPage(1);
        var page = new byte[PageGeometry.PageSize];
        for (var i = 0; i < PageGeometry.LinesPerPage; i++) ControllerRig.Line(i).CopyTo(page, i * Line);
        Assert.True(rig.HostWrite(pfn, 0, page).IsOk);

        var read = ReadWith(rig, pfn, 0, rig.VmKey);
        Assert.NotEqual(page.AsSpan(0, Line).ToArray(), read);
        Assert.Equal(0, rig.Controller.PoisonedLineCount(pfn));
    }

    private static byte[] ReadWith(ControllerRig rig, Pfn pfn, int offset, KeyId key)
    {
        var read = new byte[Line];
        Assert.Equal(MemResult.Ok, rig.Controller.Read(new LineAccess(pfn, offset, key, Requester.HostUser), read));
        return read;
    }
}
