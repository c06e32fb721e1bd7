using Vmm.Abstractions;
using Vmm.Plugins.SevSnp.Tests.Infrastructure;

namespace Vmm.Plugins.SevSnp.Tests.Rmp;

/// <summary>The RMP checks of table H (H12, H13, H15, H16, H18) on the controller alone.</summary>
public sealed class RmpCheckTests
{
    [Theory]
    [InlineData(Requester.HostUser)]
    [InlineData(Requester.HostKernel)]
    [InlineData(Requester.Device)]
    public void HostWrite_ToAnAssignedPage_FaultsAndLeavesMemoryUnchanged(Requester requester)
    {
        var rig = new SnpRig();
        rig.Assign(7);
        var secret = SnpRig.Data(1);
        Assert.True(rig.GuestWrite(7, 0, secret).IsOk);

        Assert.Equal(MemStatus.AccessFault, rig.HostWrite(7, 0, SnpRig.Data(2), requester).Status);

        var back = new byte[secret.Length];
        Assert.True(rig.GuestRead(7, 0, back).IsOk);
        Assert.Equal(secret, back);
    }

    [Theory]
    [InlineData(Requester.HostUser)]
    [InlineData(Requester.HostKernel)]
    [InlineData(Requester.Device)]
    public void HostRead_OfAnAssignedPage_SeesCiphertextThatDiffersInEveryByte(Requester requester)
    {
        var rig = new SnpRig();
        rig.Assign(7);
        var secret = SnpRig.Data(3, PageGeometry.PageSize);
        Assert.True(rig.GuestWrite(7, 0, secret).IsOk);

        var seen = new byte[secret.Length];
        Assert.True(rig.HostRead(7, 0, seen, requester).IsOk);
        for (var i = 0; i < seen.Length; i++) Assert.NotEqual(secret[i], seen[i]);
        Assert.Equal(0, rig.Controller.PoisonedLineCount(new Pfn(7)));
    }

    [Fact]
    public void Ciphertext_IsDeterministicPerAsidAddressAndData()
    {
        var rig = new SnpRig();
        var other = rig.Controller.AssignPrivateKey(new VmId(1));
        rig.Assign(7);
        rig.Assign(8);
        rig.Assign(9, key: other, vm: 1);
        var secret = SnpRig.Data(4);
        rig.GuestWrite(7, 0, secret);
        rig.GuestWrite(8, 0, secret);
        rig.Controller.Write(new LineAccess(new Pfn(9), 0, other, Requester.Guest, Gpa: new Gpa(9UL << PageGeometry.PageShift)), secret);
        byte[] Seen(ulong pfn)
        {
            var bytes = new byte[secret.Length];
            rig.HostRead(pfn, 0, bytes);
            return bytes;
        }

        Assert.Equal(Seen(7), Seen(7));
        Assert.NotEqual(Seen(7), Seen(8));
        Assert.NotEqual(Seen(7), Seen(9));
    }

    [Theory]
    [InlineData(0, 64)]
    [InlineData(3, 21)]
    [InlineData(4091, 5)]
    public void Ciphertext_OfAPartOfThePage_IsThatPartOfThePagesCiphertext(int offset, int length)
    {
        var rig = new SnpRig();
        rig.Assign(7);
        rig.GuestWrite(7, 0, SnpRig.Data(11, PageGeometry.PageSize));
        var whole = new byte[PageGeometry.PageSize];
        rig.HostRead(7, 0, whole);
        var part = new byte[length];
        rig.HostRead(7, offset, part);
        Assert.Equal(whole.AsSpan(offset, length).ToArray(), part);
    }

    [Fact]
    public void UntouchedAssignedPage_ReadsAsZerosToTheGuest_AndNotToTheHost()
    {
        var rig = new SnpRig();
        rig.Assign(7);
        var guest = new byte[64];
        var host = new byte[64];
        Assert.True(rig.GuestRead(7, 0, guest).IsOk);
        Assert.True(rig.HostRead(7, 0, host).IsOk);
        Assert.Equal(new byte[64], guest);
        Assert.DoesNotContain((byte)0, host);
    }

    [Fact]
    public void PageReassignedBehindTheGuestsBack_IsNotValidated_AndTheGuestTakesAVc()
    {
        var rig = new SnpRig();
        rig.Assign(7, gfn: 3);
        Assert.True(rig.GuestWrite(7, 0, SnpRig.Data(5), gfn: 3).IsOk);
        rig.Free(7);
        Assert.Equal(GuestPageAssigned.Page, rig.Assign(8, gfn: 3));

        var read = new byte[16];
        Assert.Equal(MemStatus.ValidationFault, rig.GuestRead(8, 0, read, gfn: 3).Status);
        Assert.Equal(MemStatus.ValidationFault, rig.GuestWrite(8, 0, SnpRig.Data(6), gfn: 3).Status);
    }

    [Fact]
    public void ConversionTheGuestAskedFor_RevalidatesTheNextPage()
    {
        var rig = new SnpRig();
        rig.Assign(7, gfn: 3);
        rig.ConvertToShared(7, gfn: 3);
        Assert.Equal(GuestPageAssigned.Page, rig.Assign(8, gfn: 3));

        var read = new byte[16];
        Assert.True(rig.GuestRead(8, 0, read, gfn: 3).IsOk);
        Assert.Equal(new byte[16], read);
    }

    [Fact]
    public void PrivateAccess_AtAnotherGpa_TakesAVc()
    {
        var rig = new SnpRig();
        rig.Assign(7, gfn: 3);
        Assert.Equal(MemStatus.ValidationFault, rig.GuestRead(7, 0, new byte[4], gfn: 4).Status);
        Assert.True(rig.GuestRead(7, 0, new byte[4], gfn: 3).IsOk);
    }

    [Fact]
    public void PageOfAnotherGuest_IsRefused_AndTheFirstGuestKeepsIt()
    {
        var rig = new SnpRig();
        var other = rig.Controller.AssignPrivateKey(new VmId(1));
        rig.Assign(7);
        var secret = SnpRig.Data(7);
        rig.GuestWrite(7, 0, secret);

        Assert.Equal(GuestPageAssigned.Refused, rig.Controller.AssignGuestPage(new GuestPageAssignment(new VmId(1), other, new Gfn(7), new Pfn(7), MappingSize.Size4K, false)));
        var back = new byte[secret.Length];
        Assert.True(rig.GuestRead(7, 0, back).IsOk);
        Assert.Equal(secret, back);
    }

    [Fact]
    public void SharedGuestAccess_ToAnAssignedPage_IsAnRmpViolation()
    {
        var rig = new SnpRig();
        rig.Assign(7);
        var shared = new LineAccess(new Pfn(7), 0, KeyId.Shared, Requester.Guest, Gpa: new Gpa(7UL << PageGeometry.PageShift));
        Assert.Equal(MemStatus.AccessFault, rig.Controller.Read(shared, new byte[4]).Status);
        Assert.Equal(MemStatus.AccessFault, rig.Controller.Write(shared, new byte[4]).Status);
    }

    [Fact]
    public void ImmutablePage_CannotBeAssignedOrWritten()
    {
        var rig = new SnpRig();
        rig.Controller.Rmp.SetImmutable(new Pfn(7));
        Assert.Equal(GuestPageAssigned.Refused, rig.Assign(7));
        Assert.Equal(MemStatus.AccessFault, rig.HostWrite(7, 0, SnpRig.Data(8), Requester.HostKernel).Status);
        rig.Controller.Reinitialize(new Pfn(7), KeyId.Shared);
        Assert.True(rig.Controller.Rmp.Get(new Pfn(7)).IsImmutable);
    }

    [Fact]
    public void GuestsGetAnAsidEach_AndTheSameOneAgain()
    {
        var rig = new SnpRig();
        Assert.Equal(new KeyId(1), rig.Key);
        Assert.Equal(new KeyId(2), rig.Controller.AssignPrivateKey(new VmId(5)));
        Assert.Equal(new KeyId(1), rig.Controller.AssignPrivateKey(new VmId(0)));
    }
}
